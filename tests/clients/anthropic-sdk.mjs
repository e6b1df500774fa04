// anthropic-sdk.mjs: the real @anthropic-ai/sdk against kiro-fcgi.
//
// Run by tests/clients/test_clients.py, which starts the mock Kiro upstream
// and the gateway, scripts the mock and checks what this prints.  Each step
// below is one call through the SDK; its outcome goes into a JSON object
// printed on stdout as the last line ({"<step>": {...}}).  A step that throws
// records {"error": "..."} and the others still run, so one failure does not
// hide the rest.  Nothing is asserted here: the Python test does that.
//
// Environment:
//   KIRO_NODE_MODULES  the node_modules directory holding @anthropic-ai/sdk
//   KIRO_BASE_URL      the gateway's base URL (with its mount prefix)
//   KIRO_API_KEY       the gateway's client API key
//   KIRO_MODEL         the model name to ask for (an Anthropic-style name)
//   KIRO_TAG           a unique word the mock's scripts match on; each step
//                      puts "<TAG>-<step>" in its prompt
//
// Steps:
//   create      messages.create, not streamed: the text
//   stream      messages.stream() + finalMessage(): text, usage, the events seen
//   tools       messages.create with a tool; the mock answers with a tool_use,
//               the script sends the tool_result back and records the answer
//   thinking    messages.stream() with thinking enabled: the content blocks
//   count       messages.countTokens: input_tokens
//   models      models.list: the ids
//   badkey      messages.create with a wrong key: the error class and status
//   websearch   messages.create and messages.stream() with only the
//               web_search server tool (Claude Code's WebSearch request):
//               the block types, the query, the result URLs, the usage

import { apiKey, baseURL, done, importPackage, model, step, tag }
    from "./sdkhelp.mjs";

const sdk = await importPackage("@anthropic-ai", "sdk", "index.mjs");
const Anthropic = sdk.default;

const client = new Anthropic({ baseURL, apiKey, maxRetries: 0,
    timeout: 30000 });

const texts = (msg) => msg.content.filter((b) => b.type === "text")
    .map((b) => b.text).join("");

await step("create", async () => {
	const msg = await client.messages.create({
		model, max_tokens: 256,
		messages: [{ role: "user", content: `${tag}-create say hello` }],
	});
	return { id: msg.id, type: msg.type, role: msg.role, model: msg.model,
	    stop_reason: msg.stop_reason, text: texts(msg), usage: msg.usage };
});

await step("stream", async () => {
	const events = [];
	let deltas = "";
	const stream = client.messages.stream({
		model, max_tokens: 256,
		system: "You are a test.",
		messages: [{ role: "user", content: `${tag}-stream tell me` }],
	});
	stream.on("streamEvent", (ev) => events.push(ev.type));
	stream.on("text", (t) => { deltas += t; });
	const msg = await stream.finalMessage();
	return { text: texts(msg), deltas, stop_reason: msg.stop_reason,
	    usage: msg.usage, events };
});

await step("tools", async () => {
	const tools = [{
		name: "get_weather",
		description: "The current weather in a city.",
		input_schema: { type: "object",
		    properties: { city: { type: "string" } },
		    required: ["city"] },
	}];
	const messages = [{ role: "user",
	    content: `${tag}-tools what is the weather in Paris?` }];
	const first = await client.messages.create({ model, max_tokens: 512,
	    tools, messages });
	const use = first.content.find((b) => b.type === "tool_use");
	if (!use)
		return { first_stop: first.stop_reason,
		    first_content: first.content, second: null };
	messages.push({ role: "assistant", content: first.content });
	messages.push({ role: "user", content: [{
		type: "tool_result", tool_use_id: use.id,
		content: `Sunny, 21 C (${tag}-toolresult)`,
	}] });
	const second = await client.messages.create({ model, max_tokens: 512,
	    tools, messages });
	return { first_stop: first.stop_reason, first_text: texts(first),
	    tool_use: { id: use.id, name: use.name, input: use.input },
	    second_stop: second.stop_reason, second_text: texts(second) };
});

await step("thinking", async () => {
	const stream = client.messages.stream({
		model, max_tokens: 4096,
		thinking: { type: "enabled", budget_tokens: 2048 },
		messages: [{ role: "user", content: `${tag}-thinking greet me` }],
	});
	const msg = await stream.finalMessage();
	return { blocks: msg.content.map((b) => ({ type: b.type,
	    text: b.type === "thinking" ? b.thinking : b.text ?? null,
	    signature: b.type === "thinking" ? typeof b.signature : null })),
	    stop_reason: msg.stop_reason };
});

await step("count", async () => {
	const r = await client.messages.countTokens({ model,
	    messages: [{ role: "user", content: "How many tokens is this?" }] });
	return { input_tokens: r.input_tokens };
});

await step("models", async () => {
	const ids = [];
	for await (const m of client.models.list())
		ids.push(m.id);
	return { ids };
});

await step("badkey", async () => {
	const bad = new Anthropic({ baseURL, apiKey: "sk-wrong-key",
	    maxRetries: 0 });
	try {
		await bad.messages.create({ model, max_tokens: 16,
		    messages: [{ role: "user", content: `${tag}-badkey` }] });
		return { thrown: null };
	} catch (err) {
		return { thrown: err?.constructor?.name,
		    authentication_error: err instanceof sdk.AuthenticationError,
		    status: err?.status ?? null,
		    type: err?.error?.error?.type ?? null };
	}
});

const searchSummary = (msg) => ({
	types: msg.content.map((b) => b.type),
	query: msg.content.find((b) => b.type === "server_tool_use")?.input?.query
	    ?? null,
	urls: (msg.content.find((b) => b.type === "web_search_tool_result")
	    ?.content ?? []).map((r) => r.url),
	text: texts(msg), stop_reason: msg.stop_reason,
	server_tool_use: msg.usage?.server_tool_use ?? null,
});

await step("websearch", async () => {
	const req = { model, max_tokens: 1024,
	    tools: [{ type: "web_search_20250305", name: "web_search",
		max_uses: 8 }],
	    messages: [{ role: "user", content:
		`Perform a web search for the query: ${tag}-websearch kiro` }] };
	const created = await client.messages.create(req);
	const streamed = await client.messages.stream(req).finalMessage();
	return { create: searchSummary(created),
	    stream: searchSummary(streamed) };
});

done();
