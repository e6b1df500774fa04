// openai-chat.mjs: the real openai npm SDK's Chat Completions against kiro-fcgi.
//
// Run by tests/clients/test_openai_chat_sdk.py, which starts the mock Kiro
// upstream and the gateway, scripts the mock and checks what this prints.
// Each step below is one call through the SDK; its outcome goes into a JSON
// object printed on stdout as the last line ({"<step>": {...}}).  A step that
// throws records {"error": "..."} and the others still run.  Nothing is
// asserted here: the Python test does that.
//
// Environment:
//   KIRO_NODE_MODULES  the node_modules directory holding openai
//   KIRO_BASE_URL      the gateway's OpenAI base URL (mount prefix + "/v1")
//   KIRO_API_KEY       the gateway's client API key
//   KIRO_MODEL         the model name to ask for
//   KIRO_TAG           a unique word the mock's scripts match on; each step
//                      puts "<TAG>-<step>" in its prompt
//
// Steps:
//   create      chat.completions.create, not streamed
//   stream      chat.completions.create({stream: true}) with include_usage:
//               the content deltas, finish_reason, the usage chunk
//   tools       a streamed call with a tool; the tool call is assembled from
//               the deltas, the result sent back (not streamed), the answer
//               recorded
//   helper      chat.completions.stream() + finalChatCompletion() (the SDK's
//               own accumulator) on a tool call
//   schema      chat.completions.parse() with response_format json_schema
//               (strict): the content and the SDK's message.parsed
//   websearch   create with web_search_options: the text and its
//               url_citation annotations
//   badkey      a wrong key: the error class and status

import { apiKey, baseURL, done, importPackage, model, step, tag }
    from "./sdkhelp.mjs";

const sdk = await importPackage("openai", "index.mjs");
const OpenAI = sdk.default;

const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 30000 });

const weather = {
	type: "function",
	function: {
		name: "get_weather",
		description: "The weather in a city",
		parameters: { type: "object", properties: { city: { type: "string" } },
		    required: ["city"] },
	},
};

await step("create", async () => {
	const c = await client.chat.completions.create({
		model, max_tokens: 256,
		messages: [{ role: "system", content: "You are a test." },
		    { role: "user", content: `${tag}-create say hello` }],
	});
	return { id: c.id, object: c.object, model: c.model,
	    text: c.choices[0].message.content, role: c.choices[0].message.role,
	    finish_reason: c.choices[0].finish_reason, usage: c.usage };
});

await step("stream", async () => {
	const stream = await client.chat.completions.create({
		model, stream: true, stream_options: { include_usage: true },
		messages: [{ role: "user", content: `${tag}-stream tell me` }],
	});
	let text = "", finish = null, usage = null, chunks = 0, role = null;
	for await (const chunk of stream) {
		chunks++;
		if (chunk.usage)
			usage = chunk.usage;
		for (const ch of chunk.choices) {
			if (ch.delta.role)
				role = ch.delta.role;
			text += ch.delta.content ?? "";
			if (ch.finish_reason)
				finish = ch.finish_reason;
		}
	}
	return { text, finish_reason: finish, usage, chunks, role };
});

await step("tools", async () => {
	const messages = [{ role: "user", content: `${tag}-tools weather in Paris?` }];
	const stream = await client.chat.completions.create({
		model, stream: true, tools: [weather], tool_choice: "auto",
		messages,
	});
	const calls = [];
	let text = "", finish = null;
	for await (const chunk of stream) {
		for (const ch of chunk.choices) {
			text += ch.delta.content ?? "";
			if (ch.finish_reason)
				finish = ch.finish_reason;
			for (const tc of ch.delta.tool_calls ?? []) {
				calls[tc.index] ??= { id: "", name: "", arguments: "" };
				if (tc.id)
					calls[tc.index].id = tc.id;
				if (tc.function?.name)
					calls[tc.index].name = tc.function.name;
				calls[tc.index].arguments += tc.function?.arguments ?? "";
			}
		}
	}
	messages.push({ role: "assistant", content: text || null,
	    tool_calls: calls.map((c) => ({ id: c.id, type: "function",
	    function: { name: c.name, arguments: c.arguments } })) });
	for (const c of calls)
		messages.push({ role: "tool", tool_call_id: c.id,
		    content: `Sunny, 21 C (${tag}-toolresult)` });
	const second = await client.chat.completions.create({
		model, tools: [weather], messages,
	});
	return { first_text: text, first_finish: finish,
	    calls: calls.map((c) => ({ id: c.id, name: c.name,
	    input: JSON.parse(c.arguments) })),
	    second_text: second.choices[0].message.content,
	    second_finish: second.choices[0].finish_reason };
});

await step("helper", async () => {
	const runner = client.chat.completions.stream({
		model, tools: [weather],
		messages: [{ role: "user", content: `${tag}-helper weather?` }],
	});
	const final = await runner.finalChatCompletion();
	const m = final.choices[0].message;
	return { content: m.content, finish_reason: final.choices[0].finish_reason,
	    tool_calls: (m.tool_calls ?? []).map((c) => ({ id: c.id, type: c.type,
	    name: c.function.name, arguments: c.function.arguments })) };
});

await step("schema", async () => {
	const c = await client.chat.completions.parse({
		model,
		messages: [{ role: "user", content: `${tag}-schema weather?` }],
		response_format: { type: "json_schema", json_schema: {
		    name: "weather", strict: true, schema: { type: "object",
		    properties: { city: { type: "string" },
		    temp: { type: "number" } }, required: ["city", "temp"],
		    additionalProperties: false } } },
	});
	const m = c.choices[0].message;
	return { content: m.content, parsed: m.parsed,
	    finish_reason: c.choices[0].finish_reason };
});

await step("websearch", async () => {
	const c = await client.chat.completions.create({
		model, web_search_options: { search_context_size: "low" },
		messages: [{ role: "user",
		    content: `${tag}-websearch Please search for kiro gateway` }],
	});
	const m = c.choices[0].message;
	return { text: m.content, annotations: m.annotations ?? null,
	    tool_calls: m.tool_calls ?? null,
	    finish_reason: c.choices[0].finish_reason };
});

await step("badkey", async () => {
	const bad = new OpenAI({ baseURL, apiKey: "wrong-key", maxRetries: 0 });
	try {
		await bad.chat.completions.create({ model,
		    messages: [{ role: "user", content: "x" }] });
		return { thrown: null };
	} catch (err) {
		return { thrown: err?.constructor?.name, status: err?.status ?? null,
		    authentication_error: err instanceof OpenAI.AuthenticationError };
	}
});

done();
