// A grpc.testing.TestService server on @grpc/grpc-js, for the interop tests.
//
// It follows the server requirements of grpc's doc/interop-test-descriptions.md ("Server"):
// payloads of response_size zero bytes, response_status ends a call with that code and
// message, interval_us waits before each response, x-grpc-test-echo-initial and
// x-grpc-test-echo-trailing-bin are echoed. grpc-js servers send no compressed responses and
// show no request message's compressed flag, so tests/tests/interop.rs skips the compression
// cases against this server.
//
// Usage: node grpc_js_server.js PROTO_ROOT (with @grpc/grpc-js and @grpc/proto-loader on
// NODE_PATH). Listens on 127.0.0.1 on a free port, prints "listening on PORT" once it serves,
// and stops when stdin closes.

'use strict';

const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const definition = protoLoader.loadSync('grpc/testing/test.proto', {
  keepCase: true,
  defaults: true,
  includeDirs: [process.argv[2]],
});
const testing = grpc.loadPackageDefinition(definition).grpc.testing;

const ECHO_INITIAL = 'x-grpc-test-echo-initial';
const ECHO_TRAILING = 'x-grpc-test-echo-trailing-bin';

function payload(size) {
  return { body: Buffer.alloc(size) };
}

function echoInitial(call) {
  const value = call.metadata.get(ECHO_INITIAL);
  if (value.length > 0) {
    const metadata = new grpc.Metadata();
    metadata.set(ECHO_INITIAL, value[0]);
    call.sendMetadata(metadata);
  }
}

function echoTrailing(call) {
  const trailers = new grpc.Metadata();
  const value = call.metadata.get(ECHO_TRAILING);
  if (value.length > 0) {
    trailers.set(ECHO_TRAILING, value[0]);
  }
  return trailers;
}

// The status a request's response_status asks for, or null.
function statusOf(request, call) {
  const status = request.response_status;
  if (!status || status.code === 0) {
    return null;
  }
  return { code: status.code, details: status.message, metadata: echoTrailing(call) };
}

const sleep = (us) => new Promise((resolve) => setTimeout(resolve, us / 1000));

// Writes the responses `request` asks for; returns the status it ends the call with, or null.
async function writeResponses(call, request) {
  const status = statusOf(request, call);
  if (status) {
    return status;
  }
  for (const params of request.response_parameters) {
    if (params.interval_us > 0) {
      await sleep(params.interval_us);
    }
    call.write({ payload: payload(params.size) });
  }
  return null;
}

// Serves a stream of StreamingOutputCallRequests: each as it arrives (full duplex) or all
// after the last (half duplex).
function duplex(halfDuplex) {
  return (call) => {
    echoInitial(call);
    const requests = [];
    let chain = Promise.resolve(null);
    // The call ends at the first request that carries a response_status.
    const serve = (request) => {
      chain = chain.then(async (ended) => {
        if (ended) {
          return ended;
        }
        const status = await writeResponses(call, request);
        if (status) {
          call.emit('error', status);
        }
        return status;
      });
    };
    call.on('data', (request) => (halfDuplex ? requests.push(request) : serve(request)));
    call.on('end', () => {
      requests.forEach(serve);
      chain.then((ended) => ended || call.end(echoTrailing(call)));
    });
    call.on('error', () => {});
  };
}

const service = {
  emptyCall(call, callback) {
    echoInitial(call);
    callback(null, {}, echoTrailing(call));
  },
  unaryCall(call, callback) {
    echoInitial(call);
    const status = statusOf(call.request, call);
    if (status) {
      callback(status);
      return;
    }
    callback(null, { payload: payload(call.request.response_size) }, echoTrailing(call));
  },
  streamingOutputCall(call) {
    echoInitial(call);
    writeResponses(call, call.request).then((status) =>
      status ? call.emit('error', status) : call.end(echoTrailing(call)),
    );
  },
  streamingInputCall(call, callback) {
    echoInitial(call);
    let total = 0;
    call.on('data', (request) => {
      total += request.payload ? request.payload.body.length : 0;
    });
    call.on('end', () => callback(null, { aggregated_payload_size: total }, echoTrailing(call)));
  },
  fullDuplexCall: duplex(false),
  halfDuplexCall: duplex(true),
};

const server = new grpc.Server();
server.addService(testing.TestService.service, service);
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    throw err;
  }
  console.log(`listening on ${port}`);
});
process.stdin.on('end', () => server.forceShutdown());
process.stdin.resume();
