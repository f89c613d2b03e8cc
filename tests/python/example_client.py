#!/usr/bin/python3
"""Calling rebound from Python: Complete, StreamComplete, and reading an error.

Uses Debian's python3-grpcio and python3-protobuf and the stubs the build
generates (target rebound_python_stubs):
  PYTHONPATH=build/proto/python /usr/bin/python3 tests/python/example_client.py \
      --addr 127.0.0.1:50051 --model openai/gpt-4o --expect-model openai/gpt-4o

The test suite runs it against a real server; every check that fails exits 1.
"""
import argparse
import json
import sys

import grpc
from google.rpc import status_pb2  # generated from proto/google/rpc/status.proto
from rebound.v1 import gateway_pb2, gateway_pb2_grpc


def check(condition, message):
    if not condition:
        sys.exit(f"FAIL: {message}")  # exit status 1


def chat_body(model, stream, path):
    body = {"model": model or "default", "messages": [{"role": "user", "content": "Say hello"}]}
    if path.endswith("/messages"):
        body["max_tokens"] = 64  # required by Anthropic's Messages API
    if stream:
        body["stream"] = True  # the provider API's flag; rebound forwards the events
    return json.dumps(body).encode()


def response_text(body):
    """The assistant text of an OpenAI- or Anthropic-style JSON answer."""
    answer = json.loads(body)
    if "choices" in answer:
        return answer["choices"][0]["message"]["content"] or ""
    return "".join(block.get("text", "") for block in answer.get("content", []))


def event_text(data):
    """The text delta of one SSE event's data (OpenAI or Anthropic)."""
    if data.strip() == b"[DONE]":
        return ""
    chunk = json.loads(data)
    if "choices" in chunk:
        return "".join(c.get("delta", {}).get("content") or "" for c in chunk["choices"])
    return chunk.get("delta", {}).get("text", "")  # Anthropic content_block_delta


def error_detail(rpc_error):
    """The gateway's ErrorDetail: the trailer grpc-status-details-bin holds a
    google.rpc.Status whose details are Anys; one of them is our ErrorDetail."""
    for key, value in rpc_error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            for any_detail in status_pb2.Status.FromString(value).details:
                detail = gateway_pb2.ErrorDetail()
                if any_detail.Unpack(detail):
                    return detail
    return None


def open_channel(args):
    """Plaintext, or TLS when a CA or client certificate is given."""
    if not (args.ca_file or args.cert_file):
        return grpc.insecure_channel(args.addr)

    def read(path):
        if not path:
            return None
        with open(path, "rb") as f:
            return f.read()

    credentials = grpc.ssl_channel_credentials(root_certificates=read(args.ca_file),
                                               private_key=read(args.key_file),
                                               certificate_chain=read(args.cert_file))
    return grpc.secure_channel(args.addr, credentials)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", default="127.0.0.1:50051")
    parser.add_argument("--model", default="", help="empty: the default provider")
    parser.add_argument("--path", default="", help="e.g. /v1/messages for Anthropic models")
    parser.add_argument("--expect-model", help="fail unless this model served both calls")
    parser.add_argument("--error-model", default="no-such/model", help="a model that must fail")
    parser.add_argument("--expect-error-reason", default="UNKNOWN_MODEL")  # sans ERROR_REASON_
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per call")
    parser.add_argument("--ca-file", help="TLS: trust the PEM roots in this file")
    parser.add_argument("--cert-file", help="mutual TLS: this client certificate (with --key-file)")
    parser.add_argument("--key-file", help="mutual TLS: the client certificate's key")
    parser.add_argument("--token-file", help="send 'authorization: Bearer <token>' (first line)")
    args = parser.parse_args()

    # A gateway with server.auth_token_file wants the token as call metadata
    # (never in the request's headers, which go to the provider).
    metadata = ()
    if args.token_file:
        with open(args.token_file) as f:
            metadata = (("authorization", f"Bearer {f.readline().strip()}"),)

    def request(model, stream):
        return gateway_pb2.CompletionRequest(model=model, path=args.path,
                                             body=chat_body(model, stream, args.path))

    with open_channel(args) as channel:
        stub = gateway_pb2_grpc.GatewayStub(channel)

        # 1. A buffered call: OK only with a complete 2xx answer.
        response = stub.Complete(request(args.model, False), timeout=args.timeout,
                                 metadata=metadata)
        text = response_text(response.body)
        print(f"Complete: served by {response.served_model} after {len(response.attempts)} "
              f"attempt(s): {text!r}")
        check(response.http_status // 100 == 2, f"http_status {response.http_status}")
        check(text, "Complete returned no text")
        check(not args.expect_model or response.served_model == args.expect_model,
              f"Complete served by {response.served_model}, expected {args.expect_model}")

        # 2. A streaming call: a reset voids the events received so far.
        pieces, end = [], None
        for event in stub.StreamComplete(request(args.model, True), timeout=args.timeout,
                                         metadata=metadata):
            kind = event.WhichOneof("event")
            if kind == "attempt_started":
                print(f"  attempt {event.attempt_started.attempt}: {event.attempt_started.model}")
            elif kind == "data":
                pieces.append(event_text(event.data.data))
            elif kind == "reset":
                print(f"  reset ({event.reset.reason}); discarding {len(pieces)} event(s)")
                pieces = []
            elif kind == "end":
                end = event.end
        check(end is not None, "the stream ended without its end event")
        text = "".join(pieces)
        print(f"StreamComplete: served by {end.served_model}: {text!r}")
        check(text, "StreamComplete returned no text")
        check(not args.expect_model or end.served_model == args.expect_model,
              f"StreamComplete served by {end.served_model}, expected {args.expect_model}")

        # 3. An error: the status code, plus the typed detail from the trailer.
        try:
            stub.Complete(request(args.error_model, False), timeout=args.timeout,
                          metadata=metadata)
            check(False, f"a call to {args.error_model} succeeded")
        except grpc.RpcError as error:
            detail = error_detail(error)
            print(f"Error: {error.code().name}: {error.details()}")
            check(detail is not None, "the error carries no ErrorDetail")
            reason = gateway_pb2.ErrorReason.Name(detail.reason).removeprefix("ERROR_REASON_")
            print(f"  reason {reason}, upstream HTTP {detail.upstream_http_status}, "
                  f"{len(detail.attempts)} attempt(s), pushback {detail.retry_pushback_ms} ms")
            for attempt in detail.attempts:
                print(f"  attempt {attempt.attempt} {attempt.model} {attempt.error_type}")
            check(reason == args.expect_error_reason,
                  f"reason {reason}, expected {args.expect_error_reason}")
    print("OK")


if __name__ == "__main__":
    try:
        main()
    except grpc.RpcError as error:  # an unexpected failure of call 1 or 2
        sys.exit(f"FAIL: {error.code().name}: {error.details()}")
