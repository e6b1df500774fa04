// genai-sdk.mjs: the real @google/genai SDK against kiro-fcgi's Gemini API.
//
// Run by tests/clients/test_genai_sdk.py, which starts the mock Kiro upstream
// and the gateway, scripts the mock and checks what this prints.  Each step
// is one call (or one round trip) through the SDK; its outcome goes into a
// JSON object printed on stdout as the last line.  A step that throws
// records {"error": "..."} and the others still run.  Nothing is asserted
// here: the Python test does that.
//
// Environment:
//   KIRO_NODE_MODULES  the node_modules directory holding @google/genai
//   KIRO_BASE_URL      the gateway's base URL (with its mount prefix)
//   KIRO_API_KEY       the gateway's client API key (sent as x-goog-api-key)
//   KIRO_MODEL         the Gemini model name to ask for
//   KIRO_TAG           a unique word the mock's scripts match on; each step
//                      puts "<TAG>-<step>" in its prompt
//
// Steps:
//   generate    models.generateContent: text, finishReason, usage, modelVersion
//   stream      models.generateContentStream: the chunk texts, last finishReason
//   tools       a function-calling round trip: the mock answers with a call of
//               get_weather, the script sends the functionResponse back with
//               the model's content, and records the second answer
//   streamtools generateContentStream with a tool: the functionCalls seen
//   thinking    generateContent with includeThoughts: the parts
//   image       generateContent with an inlineData PNG: the text
//   count       models.countTokens: totalTokens
//   models      models.list: the names; models.get: one model
//   schema      generateContent with responseMimeType application/json and
//               responseSchema (Type.* enums): the text, parsed
//   jsonschema  generateContentStream with responseJsonSchema: the chunk
//               texts, parsed
//   badkey      generateContent with a wrong key: the error's status

import { apiKey, baseURL as baseUrl, done, importPackage, model, step, tag }
    from "./sdkhelp.mjs";

const sdk = await importPackage("@google", "genai", "dist", "node",
    "index.mjs");
const { GoogleGenAI, Type } = sdk;

const ai = new GoogleGenAI({ apiKey, httpOptions: { baseUrl } });
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4" +
    "DwABBAEAwS2OUAAAAABJRU5ErkJggg==";
const weather = {
	name: "get_weather",
	description: "The weather in a city",
	parameters: {
		type: Type.OBJECT,
		properties: { city: { type: Type.STRING } },
		required: ["city"],
	},
};

await step("generate", async () => {
	const r = await ai.models.generateContent({ model,
	    contents: `${tag}-generate say hello` });
	return { text: r.text, finishReason: r.candidates[0].finishReason,
	    usage: r.usageMetadata, modelVersion: r.modelVersion,
	    responseId: r.responseId };
});

await step("stream", async () => {
	const chunks = [];
	let finish = null;
	for await (const c of await ai.models.generateContentStream({ model,
	    contents: `${tag}-stream count` })) {
		if (c.text)
			chunks.push(c.text);
		if (c.candidates?.[0]?.finishReason)
			finish = c.candidates[0].finishReason;
	}
	return { chunks, finishReason: finish };
});

await step("tools", async () => {
	const config = { tools: [{ functionDeclarations: [weather] }] };
	const user = { role: "user", parts: [{ text: `${tag}-tools weather?` }] };
	const first = await ai.models.generateContent({ model, contents: [user],
	    config });
	const calls = first.functionCalls ?? [];
	const content = first.candidates[0].content;
	const second = await ai.models.generateContent({ model, config,
	    contents: [user, content, { role: "user", parts: calls.map((c) => ({
		functionResponse: { name: c.name,
		    response: { output: `Sunny, 21 C (${tag}-toolresult)` } },
	    })) }] });
	return { calls: calls.map((c) => ({ name: c.name, args: c.args })),
	    firstText: first.text ?? null, secondText: second.text };
});

await step("streamtools", async () => {
	const calls = [];
	for await (const c of await ai.models.generateContentStream({ model,
	    contents: `${tag}-streamtools weather?`,
	    config: { tools: [{ functionDeclarations: [weather] }] } }))
		for (const fc of c.functionCalls ?? [])
			calls.push({ name: fc.name, args: fc.args });
	return { calls };
});

await step("schema", async () => {
	const r = await ai.models.generateContent({ model,
	    contents: `${tag}-schema weather?`, config: {
		responseMimeType: "application/json",
		responseSchema: { type: Type.OBJECT, properties: {
		    city: { type: Type.STRING }, temp: { type: Type.NUMBER } },
		    required: ["city", "temp"] } } });
	return { text: r.text, parsed: JSON.parse(r.text),
	    finishReason: r.candidates[0].finishReason };
});

await step("jsonschema", async () => {
	const chunks = [];
	for await (const c of await ai.models.generateContentStream({ model,
	    contents: `${tag}-jsonschema weather?`, config: {
		responseMimeType: "application/json",
		responseJsonSchema: { type: "object", properties: {
		    city: { type: "string" }, temp: { type: "number" } },
		    required: ["city", "temp"] } } }))
		if (c.text)
			chunks.push(c.text);
	return { chunks, parsed: JSON.parse(chunks.join("")) };
});

await step("thinking", async () => {
	const r = await ai.models.generateContent({ model,
	    contents: `${tag}-thinking hi`, config: { thinkingConfig: {
		includeThoughts: true, thinkingBudget: 1024 } } });
	return { parts: r.candidates[0].content.parts, text: r.text };
});

await step("image", async () => {
	const r = await ai.models.generateContent({ model, contents: [{
	    role: "user", parts: [{ inlineData: { mimeType: "image/png",
		data: PNG } }, { text: `${tag}-image what is this?` }] }] });
	return { text: r.text };
});

await step("count", async () => {
	const r = await ai.models.countTokens({ model,
	    contents: `${tag}-count some words to count` });
	return { totalTokens: r.totalTokens };
});

await step("models", async () => {
	const names = [];
	for await (const m of await ai.models.list())
		names.push(m.name);
	const one = await ai.models.get({ model });
	return { names, one: { name: one.name,
	    inputTokenLimit: one.inputTokenLimit } };
});

await step("badkey", async () => {
	const bad = new GoogleGenAI({ apiKey: "wrong-key",
	    httpOptions: { baseUrl } });
	try {
		await bad.models.generateContent({ model, contents: "x" });
		return { thrown: null };
	} catch (err) {
		return { thrown: err?.constructor?.name, status: err?.status,
		    message: String(err?.message).slice(0, 300) };
	}
});

done();
