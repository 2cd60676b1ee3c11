"""A grpc.testing.TestService server on grpcio (gRPC C-core), for the interop tests.

It follows the server requirements of grpc's doc/interop-test-descriptions.md ("Server"):
payloads of response_size zero bytes, response_status ends a call with that code and message,
interval_us sleeps before each response, x-grpc-test-echo-initial and
x-grpc-test-echo-trailing-bin are echoed, and each response message is gzip-compressed exactly
when its response_compressed/compressed asks (grpcio's set_compression and
disable_next_message_compression). grpcio shows a server no request message's compressed flag,
so expect_compressed is not checked here (tests/tests/interop.rs skips client_compressed_*).

Usage: python3 grpcio_server.py PROTO_ROOT. Listens on 127.0.0.1 on a free port and prints
"listening on PORT" once it serves; stops when stdin closes.
"""

import pathlib
import sys
import tempfile
import time
from concurrent import futures

import grpc

# The protos' own path, grpc/testing/, would make their Python modules grpc.testing.*, which
# is grpcio's; the same files under another folder keep their proto package (grpc.testing).
_protos_dir = tempfile.TemporaryDirectory()
for name in ("empty", "messages", "test"):
    text = (pathlib.Path(sys.argv[1]) / "grpc" / "testing" / f"{name}.proto").read_text()
    text = text.replace('import "grpc/testing/', 'import "interop_protos/')
    (pathlib.Path(_protos_dir.name) / "interop_protos").mkdir(exist_ok=True)
    (pathlib.Path(_protos_dir.name) / "interop_protos" / f"{name}.proto").write_text(text)
sys.path.insert(0, _protos_dir.name)

_, services = grpc.protos_and_services("interop_protos/test.proto")
msgs = grpc.protos("interop_protos/messages.proto")
empty = grpc.protos("interop_protos/empty.proto")

ECHO_INITIAL = "x-grpc-test-echo-initial"
ECHO_TRAILING = "x-grpc-test-echo-trailing-bin"


def payload(size):
    return msgs.Payload(body=b"\0" * size)


def echo_metadata(context):
    metadata = dict(context.invocation_metadata())
    if ECHO_INITIAL in metadata:
        context.send_initial_metadata([(ECHO_INITIAL, metadata[ECHO_INITIAL])])
    if ECHO_TRAILING in metadata:
        context.set_trailing_metadata([(ECHO_TRAILING, metadata[ECHO_TRAILING])])


def end_with_status(request, context):
    """Ends the call with the request's response_status, if it asks for one."""
    if request.HasField("response_status") and request.response_status.code != 0:
        status = request.response_status
        code = next(c for c in grpc.StatusCode if c.value[0] == status.code)
        context.abort(code, status.message)


def stream_responses(requests, context):
    """The responses the StreamingOutputCallRequests ask for, each compressed or not."""
    context.set_compression(grpc.Compression.Gzip)
    for request in requests:
        end_with_status(request, context)
        for params in request.response_parameters:
            if params.interval_us > 0:
                time.sleep(params.interval_us / 1e6)
            if not params.compressed.value:
                context.disable_next_message_compression()
            yield msgs.StreamingOutputCallResponse(payload=payload(params.size))


class TestService(services.TestServiceServicer):
    def EmptyCall(self, request, context):
        echo_metadata(context)
        return empty.Empty()

    def UnaryCall(self, request, context):
        echo_metadata(context)
        end_with_status(request, context)
        if request.response_compressed.value:
            context.set_compression(grpc.Compression.Gzip)
        return msgs.SimpleResponse(payload=payload(request.response_size))

    def StreamingOutputCall(self, request, context):
        echo_metadata(context)
        yield from stream_responses([request], context)

    def StreamingInputCall(self, requests, context):
        echo_metadata(context)
        total = sum(len(r.payload.body) for r in requests)
        return msgs.StreamingInputCallResponse(aggregated_payload_size=total)

    def FullDuplexCall(self, requests, context):
        echo_metadata(context)
        yield from stream_responses(requests, context)

    def HalfDuplexCall(self, requests, context):
        echo_metadata(context)
        yield from stream_responses(list(requests), context)


def main():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    services.add_TestServiceServicer_to_server(TestService(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"listening on {port}", flush=True)
    sys.stdin.read()
    server.stop(grace=None)


if __name__ == "__main__":
    main()
