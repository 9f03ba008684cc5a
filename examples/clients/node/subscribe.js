#!/usr/bin/env node
// Subscribes to nestr's event stream (nestr.v1.EventService/Subscribe) with @grpc/grpc-js and
// prints each event as one JSON line on stdout.
//
//   NESTR_TOKEN=... node subscribe.js [--address 127.0.0.1:7433] [--count N] [--after-seq S]
//                                     [--types PREFIX,PREFIX] [--run-id ID] [--repo NAME]
//
// It loads proto/nestr/v1/events.proto at run time (no generated code), sends the token as
// `authorization: Bearer <token>` metadata and exits 0 after --count events (default: never).
// A call that fails prints `error: CODE: message` on stderr and exits 1.
"use strict";

const path = require("node:path");
const { parseArgs } = require("node:util");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");

const PROTO_ROOT = process.env.NESTR_PROTO_ROOT || path.resolve(__dirname, "../../../proto");

function options() {
  const { values } = parseArgs({
    options: {
      address: { type: "string", default: "127.0.0.1:7433" },
      count: { type: "string", default: "0" },
      "after-seq": { type: "string", default: "0" },
      types: { type: "string", default: "" },
      "run-id": { type: "string", default: "" },
      repo: { type: "string", default: "" },
    },
  });
  return values;
}

function eventService() {
  const definition = protoLoader.loadSync("nestr/v1/events.proto", {
    includeDirs: [PROTO_ROOT],
    keepCase: true,
    longs: String, // uint64 seqs stay exact
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition).nestr.v1.EventService;
}

function asJson(event) {
  const seconds = Number(event.time ? event.time.seconds : 0);
  const nanos = event.time ? event.time.nanos : 0;
  return JSON.stringify({
    seq: Number(event.seq),
    id: event.id,
    source: event.source,
    type: event.type,
    subject: event.subject,
    time: new Date(seconds * 1000 + Math.floor(nanos / 1e6)).toISOString(),
    run_id: event.run_id,
    step: event.step,
    repo: event.repo,
    correlation_id: event.correlation_id,
    traceparent: event.traceparent,
    severity: event.severity,
    data: JSON.parse(event.data_json || "{}"),
  });
}

function main() {
  const args = options();
  const limit = Number(args.count);
  const EventService = eventService();
  const client = new EventService(args.address, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  if (process.env.NESTR_TOKEN) {
    metadata.set("authorization", `Bearer ${process.env.NESTR_TOKEN}`);
  }
  const request = {
    after_seq: args["after-seq"],
    types: args.types ? args.types.split(",") : [],
    run_id: args["run-id"],
    repo: args.repo,
  };
  const call = client.Subscribe(request, metadata);
  let seen = 0;
  call.on("data", (response) => {
    if (response.kind !== "batch") {
      return; // heartbeats and gap notices carry no events
    }
    for (const event of response.batch.events) {
      process.stdout.write(asJson(event) + "\n");
      seen += 1;
      if (limit > 0 && seen >= limit) {
        call.cancel();
        client.close();
        return;
      }
    }
  });
  call.on("error", (error) => {
    if (error.code === grpc.status.CANCELLED && limit > 0 && seen >= limit) {
      return; // our own cancel after the last event
    }
    process.stderr.write(`error: ${grpc.status[error.code]}: ${error.details}\n`);
    process.exitCode = 1;
    client.close();
  });
}

main();
