#!/usr/bin/env node
// A nestr step plugin in Node (@grpc/grpc-js, @grpc/proto-loader): it speaks the protocol of
// proto/nestr/plugin/v1/plugin.proto as any plugin must (docs/plugins.md, "Writing a plugin in
// another language"), loading the .proto at run time (no generated code).
//
//   node-echo.say   with: {text, times}: logs the text, output `said`
//   node-echo.wait  runs until cancelled
//
// nestr starts it with NESTR_PLUGIN_SECRET and NESTR_PLUGIN_PROTOCOL_VERSIONS set; it listens on a
// Unix socket, prints `nestr-plugin|1|unix|PATH` on stdout, refuses calls without the secret
// and stops on SIGTERM.
"use strict";

const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const crypto = require("node:crypto");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");

const PROTO_ROOT = process.env.NESTR_PROTO_ROOT || path.resolve(__dirname, "../../../proto");
const PROTOCOL_VERSION = "1";
const NAME = "node-echo";
const SAY_SCHEMA = {
  type: "object",
  required: ["text"],
  properties: { text: { type: "string" }, times: { type: "integer" } },
  additionalProperties: false,
};

function load(file, includeDirs) {
  const definition = protoLoader.loadSync(file, {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs,
  });
  return grpc.loadPackageDefinition(definition);
}

// google.protobuf.Struct <-> plain JavaScript values
function fromValue(value) {
  switch (value.kind) {
    case "structValue": return fromStruct(value.structValue);
    case "listValue": return (value.listValue.values || []).map(fromValue);
    case "numberValue": return value.numberValue;
    case "stringValue": return value.stringValue;
    case "boolValue": return value.boolValue;
    default: return null;
  }
}

function fromStruct(struct) {
  const out = {};
  for (const [key, value] of Object.entries((struct && struct.fields) || {})) {
    out[key] = fromValue(value);
  }
  return out;
}

// --- the steps -----------------------------------------------------------------------------

function validateSay(withValue) {
  const problems = [];
  if (typeof withValue.text !== "string") {
    problems.push({ path: withValue.text === undefined ? [] : ["text"], message: "`text` is required (a string)" });
  }
  if (withValue.times !== undefined && !Number.isInteger(withValue.times)) {
    problems.push({ path: ["times"], message: "expected integer" });
  }
  for (const key of Object.keys(withValue)) {
    if (!(key in SAY_SCHEMA.properties)) problems.push({ path: [key], message: `unknown field \`${key}\`` });
  }
  return problems;
}

const STEPS = {
  "node-echo.say": {
    description: "Log the text and return it as output `said`.",
    schema: SAY_SCHEMA,
    validate: validateSay,
    run: async (withValue, send) => {
      for (let i = 0; i < (withValue.times || 1); i += 1) {
        send({ log: { stream: "STREAM_STDOUT", text: `${withValue.text}\n` } });
      }
      send({ output: { name: "said", value: String(withValue.text) } });
      process.stderr.write(`node-echo said ${withValue.text}\n`);
    },
  },
  "node-echo.wait": {
    description: "Run until cancelled.",
    schema: { type: "object" },
    validate: () => [],
    run: (withValue, send, cancelled) => cancelled,
  },
};

// --- the service ---------------------------------------------------------------------------

const secret = process.env.NESTR_PLUGIN_SECRET || "";
const running = new Map(); // execution id -> function that cancels it

function allowed(call) {
  const given = call.metadata.get("x-nestr-plugin-secret")[0];
  const a = Buffer.from(String(given || ""));
  const b = Buffer.from(secret);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

const UNAUTHENTICATED = { code: grpc.status.UNAUTHENTICATED, details: "wrong or missing plugin secret" };

function unary(handler) {
  return (call, callback) => {
    if (!allowed(call)) return callback(UNAUTHENTICATED);
    try {
      return callback(null, handler(call.request));
    } catch (error) {
      return callback({ code: grpc.status.INTERNAL, details: String(error) });
    }
  };
}

const stepPlugin = {
  Describe: unary(() => ({
    name: NAME,
    version: "1.0.0",
    step_types: Object.entries(STEPS).map(([name, step]) => ({
      name, description: step.description, with_schema: JSON.stringify(step.schema),
    })),
  })),
  Validate: unary((request) => {
    const step = STEPS[request.step_type];
    if (!step) return { problems: [{ path: [], message: `${NAME} has no step type ${request.step_type}` }] };
    return { problems: step.validate(fromStruct(request.with)) };
  }),
  Cancel: unary((request) => {
    const cancel = running.get(request.execution_id);
    if (cancel) cancel();
    return { found: Boolean(cancel) };
  }),
  Execute: async (call) => {
    if (!allowed(call)) return call.destroy(Object.assign(new Error(UNAUTHENTICATED.details), UNAUTHENTICATED));
    const request = call.request;
    const step = STEPS[request.step_type];
    const finish = (status, message = "") => {
      running.delete(request.execution_id);
      call.write({ result: { status, message, returncode: 0 } });
      call.end();
    };
    if (!step) return finish("STATUS_FAILED", `${NAME} has no step type ${request.step_type}`);
    let cancel;
    const cancelled = new Promise((resolve) => { cancel = () => resolve("cancelled"); });
    running.set(request.execution_id, cancel);
    try {
      const outcome = await Promise.race([step.run(fromStruct(request.with), (m) => call.write(m), cancelled), cancelled]);
      return outcome === "cancelled" ? finish("STATUS_CANCELLED", "cancelled") : finish("STATUS_SUCCEEDED");
    } catch (error) {
      return finish("STATUS_FAILED", String(error));
    }
  },
};

const health = {
  Check: unary(() => ({ status: "SERVING" })),
  Watch: (call) => {
    if (!allowed(call)) return call.destroy(Object.assign(new Error(UNAUTHENTICATED.details), UNAUTHENTICATED));
    return call.write({ status: "SERVING" });
  },
};

function main() {
  if (!secret) {
    process.stderr.write(`${NAME}: this is a nestr plugin; nestr starts it (try \`nestr plugin check\`)\n`);
    process.exit(2);
  }
  const plugin = load(path.join(PROTO_ROOT, "nestr/plugin/v1/plugin.proto"), [PROTO_ROOT]);
  const healthPackage = load(path.join(__dirname, "health.proto"), [__dirname]);
  const server = new grpc.Server();
  server.addService(plugin.nestr.plugin.v1.StepPlugin.service, stepPlugin);
  server.addService(healthPackage.grpc.health.v1.Health.service, health);
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), "nestr-plugin-"));
  const socket = path.join(folder, "plugin.sock");
  server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (error) => {
    if (error) {
      process.stderr.write(`${NAME}: cannot listen on ${socket}: ${error.message}\n`);
      process.exit(1);
    }
    process.stdout.write(`nestr-plugin|${PROTOCOL_VERSION}|unix|${socket}\n`);
  });
  const stop = () => {
    for (const cancel of running.values()) cancel();
    server.tryShutdown(() => {
      fs.rmSync(folder, { recursive: true, force: true });
      process.exit(0);
    });
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main();
