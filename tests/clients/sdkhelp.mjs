// sdkhelp.mjs: what the SDK scripts (*-sdk.mjs, openai-*.mjs) share.
//
// The environment every script reads (set by ClientTestCase.run_node in
// clienthelp.py):
//   KIRO_NODE_MODULES  the node_modules directory holding the SDKs
//   KIRO_BASE_URL      the gateway's base URL for the SDK
//   KIRO_API_KEY       the gateway's client API key
//   KIRO_MODEL         the model name to ask for
//   KIRO_TAG           a unique word the mock's scripts match on; each step
//                      puts "<TAG>-<step>" in its prompt
// and the step runner: each step is one or more calls through the SDK; its
// outcome goes into one JSON object that done() prints on stdout as the
// last line ({"<step>": {...}}).  A step that throws records {"error":
// "...", "status", "stack"} and the others still run.  Nothing is asserted
// here: the Python tests do that.

import { join } from "node:path";
import { pathToFileURL } from "node:url";

export function env(name) {
	const v = process.env[name];
	if (!v)
		throw new Error(`${name} is not set`);
	return v;
}

export const baseURL = env("KIRO_BASE_URL");
export const apiKey = env("KIRO_API_KEY");
export const model = env("KIRO_MODEL");
export const tag = env("KIRO_TAG");

// ESM resolution ignores NODE_PATH: import a package's file by its path.
export async function importPackage(...path) {
	return import(pathToFileURL(join(env("KIRO_NODE_MODULES"), ...path)).href);
}

export const results = {};

export async function step(name, fn) {
	try {
		results[name] = await fn();
	} catch (err) {
		results[name] = { error: `${err?.constructor?.name}: ${err?.message}`,
		    status: err?.status ?? null, stack: err?.stack };
	}
}

export function done() {
	process.stdout.write(JSON.stringify(results) + "\n");
}
