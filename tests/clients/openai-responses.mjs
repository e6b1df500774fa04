// openai-responses.mjs: the real `openai` npm SDK's Responses API against kiro-fcgi.
//
// Run by tests/clients/test_openai_responses_sdk.py, which starts the mock
// Kiro upstream and the gateway, scripts the mock and checks what this
// prints.  Each step below is one or two calls through the SDK; its outcome
// goes into a JSON object printed on stdout as the last line.  A step that
// throws records {"error": "..."} and the others still run.  Nothing is
// asserted here: the Python test does that.
//
// Environment:
//   KIRO_NODE_MODULES  the node_modules directory holding openai
//   KIRO_BASE_URL      the gateway's base URL with /v1 (with its mount prefix)
//   KIRO_API_KEY       the gateway's client API key
//   KIRO_MODEL         the model name to ask for
//   KIRO_TAG           a unique word the mock's scripts match on; each step
//                      puts "<TAG>-<step>" in its prompt
//
// Steps:
//   create     responses.create, not streamed: id, status, output_text, usage
//   stream     responses.stream() + finalResponse(): events, deltas, text
//   tools      responses.create(stream) with a function tool; the mock
//              answers with a call, the script sends the whole history back
//              with a function_call_output (store:false) and records the
//              second answer
//   custom     a custom (freeform) tool: the custom_tool_call item's input
//   reasoning  reasoning.effort high, streamed: the output item types and
//              the reasoning summary text
//   schema     responses.stream() with text.format json_schema (strict) and
//              tool_choice none: the text and the SDK's output_parsed
//   previous   previous_response_id: the error class, status and param
//   badkey     a wrong key: the error class and status

import { apiKey, baseURL, done, importPackage, model, step, tag }
    from "./sdkhelp.mjs";

const sdk = await importPackage("openai", "index.mjs");
const OpenAI = sdk.default;

const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 30000 });

const weather = {
	type: "function", name: "get_weather", description: "Weather for a city",
	parameters: { type: "object", properties: { city: { type: "string" } },
	    required: ["city"] },
};

await step("create", async () => {
	const r = await client.responses.create({ model,
	    input: `${tag}-create say hello`, store: false });
	return { id: r.id, object: r.object, status: r.status, model: r.model,
	    text: r.output_text, types: r.output.map((i) => i.type),
	    usage: r.usage };
});

await step("stream", async () => {
	const events = [];
	let deltas = "";
	const stream = client.responses.stream({ model,
	    instructions: "You are a test.", input: `${tag}-stream tell me` });
	stream.on("event", (e) => events.push(e.type));
	stream.on("response.output_text.delta", (e) => { deltas += e.delta; });
	const r = await stream.finalResponse();
	return { events, deltas, text: r.output_text, status: r.status,
	    usage: r.usage };
});

await step("tools", async () => {
	const input = [{ role: "user", content: `${tag}-tools weather in Paris?` }];
	const stream = client.responses.stream({ model, input, tools: [weather],
	    tool_choice: "auto", store: false });
	const args = [];
	stream.on("response.function_call_arguments.delta",
	    (e) => args.push(e.delta));
	const first = await stream.finalResponse();
	const call = first.output.find((i) => i.type === "function_call");
	const history = input.concat(first.output, [{
		type: "function_call_output", call_id: call.call_id,
		output: `Sunny, 21 C (${tag}-toolresult)`,
	}]);
	const second = await client.responses.create({ model, input: history,
	    tools: [weather], store: false });
	return { first_types: first.output.map((i) => i.type),
	    first_text: first.output_text, args: args.join(""),
	    call: { call_id: call.call_id, name: call.name,
	    arguments: JSON.parse(call.arguments) },
	    second_text: second.output_text, second_status: second.status };
});

await step("custom", async () => {
	const r = await client.responses.create({ model,
	    input: `${tag}-custom patch it`, tools: [{ type: "custom",
	    name: "apply_patch", description: "Apply a patch",
	    format: { type: "grammar", syntax: "lark",
	    definition: "start: begin_patch hunk+ end_patch" } }] });
	const call = r.output.find((i) => i.type === "custom_tool_call");
	return { types: r.output.map((i) => i.type), call_id: call?.call_id,
	    name: call?.name, input: call?.input };
});

await step("reasoning", async () => {
	const summary = [];
	const stream = client.responses.stream({ model,
	    input: `${tag}-reasoning think`, reasoning: { effort: "high" } });
	stream.on("response.reasoning_summary_text.delta",
	    (e) => summary.push(e.delta));
	const r = await stream.finalResponse();
	return { types: r.output.map((i) => i.type),
	    summary: r.output[0]?.summary?.[0]?.text, deltas: summary.join(""),
	    text: r.output_text };
});

await step("schema", async () => {
	const stream = client.responses.stream({ model,
	    input: `${tag}-schema weather?`, tools: [weather], tool_choice: "none",
	    text: { format: { type: "json_schema", name: "weather", strict: true,
	    schema: { type: "object", properties: { city: { type: "string" },
	    temp: { type: "number" } }, required: ["city", "temp"],
	    additionalProperties: false } } } });
	const r = await stream.finalResponse();
	return { types: r.output.map((i) => i.type), text: r.output_text,
	    parsed: r.output_parsed, status: r.status };
});

await step("previous", async () => {
	try {
		await client.responses.create({ model, input: "again",
		    previous_response_id: "resp_0123" });
		return { thrown: null };
	} catch (err) {
		return { thrown: err?.constructor?.name, status: err?.status,
		    param: err?.param ?? err?.error?.param ?? null };
	}
});

await step("badkey", async () => {
	const bad = new OpenAI({ baseURL, apiKey: "sk-wrong", maxRetries: 0 });
	try {
		await bad.responses.create({ model, input: "hi" });
		return { thrown: null };
	} catch (err) {
		return { thrown: err?.constructor?.name, status: err?.status };
	}
});

done();
