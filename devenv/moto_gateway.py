"""Loopback AWS emulator for gcops tests and demos: moto's server plus bridges.

Starts moto's WSGI application in this process on 127.0.0.1 and a free port,
and puts a middleware in front of it that translates what moto cannot serve:

- CloudWatch over the Smithy RPC v2 CBOR protocol, which aws-sdk-cloudwatch
  speaks and moto 5.2 does not (moto returns 404 for those paths). A request
  `POST /service/GraniteServiceVersion20100801/operation/<Op>` with a CBOR
  body is decoded, sent to moto in-process as the equivalent JSON-protocol
  request, and moto's JSON answer is encoded back to CBOR using botocore's
  service model, so that timestamps become CBOR tag 1 and blobs byte strings.

- Operations that moto lacks entirely, listed in `EMULATED_OPERATIONS` and
  keyed by (service id, operation), are answered here from moto's backends,
  over the JSON protocol (`X-Amz-Target: <service id>.<operation>`) and over
  the CBOR bridge alike. Budgets' DescribeSubscribersForNotification is one.

Every other request goes to moto unchanged.

Usage:
    python devenv/moto_gateway.py [--port-file PATH]

The chosen port is printed on stdout (one line, the number) and, with
--port-file, written to that file once the socket is listening.
"""

import argparse
import base64
import datetime
import io
import json
import os
import signal
import sys
import threading
import time
from typing import Any, Callable, Iterable
from xml.etree import ElementTree

# moto reads its settings from the environment when its modules load, so this
# must be set before the first moto import. It makes AWS managed policies
# (arn:aws:iam::aws:policy/...) attachable in IAM.
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

import botocore.session  # noqa: E402
import cbor2  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

LOOPBACK = "127.0.0.1"

# Smithy service id (the JSON protocol's target prefix) to botocore's
# service name, for every service the CBOR bridge translates.
CBOR_SERVICES = {
    "GraniteServiceVersion20100801": "cloudwatch",
}



def describe_subscribers_for_notification(request: dict, environ: dict) -> dict:
    """Budgets DescribeSubscribersForNotification, missing in moto 5.2.

    Reads the subscribers that moto stored with the notification. moto keys
    budgets by the calling account and then by the AccountId parameter. This
    handler looks only in the backend of the AccountId account, because that
    is the caller whenever an account reads its own budgets.
    """
    from moto.budgets.models import budgets_backends

    account_id = request.get("AccountId", "")
    budget_name = request.get("BudgetName", "")
    requested = request.get("Notification") or {}

    backend = budgets_backends[account_id]["aws"]
    budget = backend.budgets.get(account_id, {}).get(budget_name)
    if budget is None:
        raise BridgeError(400, "NotFoundException", f"Unable to get budget: {budget_name} - the budget doesn't exist.")

    for notification in budget.notifications:
        if same_notification(notification.details, requested):
            return {"Subscribers": list(notification.subscribers)}
    raise BridgeError(400, "NotFoundException", f"Unable to find notification for budget: {budget_name}")


def same_notification(stored: dict, requested: dict) -> bool:
    """Compare two Budgets notifications on the fields that identify one."""

    def key(notification: dict) -> tuple:
        return (
            notification.get("NotificationType"),
            notification.get("ComparisonOperator"),
            float(notification.get("Threshold", 0)),
            notification.get("ThresholdType") or "PERCENTAGE",
        )

    return key(stored) == key(requested)


# (service id, operation name) to a handler for operations that moto does not
# implement. A handler takes the decoded request (a dict shaped like the JSON
# protocol input) and the WSGI environ, and returns the output dict or raises
# BridgeError.
EMULATED_OPERATIONS: dict[tuple[str, str], Callable[[dict, dict], dict]] = {
    ("AWSBudgetServiceGateway", "DescribeSubscribersForNotification"): describe_subscribers_for_notification,
}

RPC_V2_PATH_PREFIX = "/service/"


class BridgeError(Exception):
    """An error to send back in the RPC v2 error shape."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class CborBridge:
    """WSGI middleware that serves RPC v2 CBOR requests from moto's JSON protocol."""

    def __init__(self, app: Callable):
        self.app = app
        self.session = botocore.session.get_session()
        self.models: dict[str, Any] = {}
        self.models_lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        emulated = self.parse_emulated_json(environ)
        if emulated is not None:
            return self.serve_emulated_json(environ, start_response, emulated)

        route = self.parse_route(environ)
        if route is None:
            return self.app(environ, start_response)

        service_id, operation = route
        try:
            output = self.handle(environ, service_id, operation)
            status, body = "200 OK", encode_cbor(output)
        except BridgeError as error:
            status = f"{error.status} Error"
            body = cbor2.dumps({"__type": error.code, "message": error.message})

        start_response(
            status,
            [
                ("Content-Type", "application/cbor"),
                ("Content-Length", str(len(body))),
                ("smithy-protocol", "rpc-v2-cbor"),
            ],
        )
        return [body]

    @staticmethod
    def parse_emulated_json(environ: dict) -> tuple[str, str] | None:
        """Return (service id, operation) for a JSON-protocol request this gateway serves itself."""
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if environ.get("REQUEST_METHOD") != "POST" or "." not in target:
            return None
        service_id, operation = target.split(".", 1)
        if (service_id, operation) not in EMULATED_OPERATIONS:
            return None
        return service_id, operation

    @staticmethod
    def serve_emulated_json(environ: dict, start_response: Callable, route: tuple[str, str]) -> Iterable[bytes]:
        content_type = environ.get("CONTENT_TYPE") or "application/x-amz-json-1.1"
        try:
            text = read_body(environ).decode("utf-8")
            request = json.loads(text) if text.strip() else {}
            output = EMULATED_OPERATIONS[route](request, environ)
            status, payload = "200 OK", output
        except BridgeError as error:
            status = f"{error.status} Error"
            payload = {"__type": error.code, "message": error.message}
        except ValueError as error:
            status = "400 Error"
            payload = {"__type": "SerializationException", "message": f"invalid JSON body: {error}"}

        body = json.dumps(payload).encode("utf-8")
        start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]

    @staticmethod
    def parse_route(environ: dict) -> tuple[str, str] | None:
        """Return (service id, operation) for an RPC v2 request this bridge serves."""
        if environ.get("REQUEST_METHOD") != "POST":
            return None
        path = environ.get("PATH_INFO", "")
        if not path.startswith(RPC_V2_PATH_PREFIX):
            return None
        parts = path[len(RPC_V2_PATH_PREFIX) :].split("/")
        if len(parts) != 3 or parts[1] != "operation":
            return None
        service_id, _, operation = parts
        if service_id not in CBOR_SERVICES:
            return None
        return service_id, operation

    def service_model(self, service_id: str) -> Any:
        with self.models_lock:
            if service_id not in self.models:
                name = CBOR_SERVICES[service_id]
                self.models[service_id] = self.session.get_service_model(name)
            return self.models[service_id]

    def handle(self, environ: dict, service_id: str, operation: str) -> Any:
        model = self.service_model(service_id)
        try:
            operation_model = model.operation_model(operation)
        except Exception:
            raise BridgeError(400, "UnknownOperationException", f"unknown operation {operation}")

        request = decode_cbor(read_body(environ))

        handler = EMULATED_OPERATIONS.get((service_id, operation))
        if handler is not None:
            output = handler(request, environ)
        else:
            output = self.call_moto_json(environ, service_id, operation, request)

        return shape_output(operation_model.output_shape, output)

    def call_moto_json(self, environ: dict, service_id: str, operation: str, request: dict) -> Any:
        """Send the operation to moto as a JSON-protocol request and return the parsed response."""
        payload = json.dumps(request).encode("utf-8")

        inner = {
            key: value
            for key, value in environ.items()
            if not key.startswith("HTTP_") and key not in ("CONTENT_TYPE", "CONTENT_LENGTH")
        }
        # Keep the Authorization header as sent: moto takes the service and
        # region from its credential scope and the account from its access key.
        for key in ("HTTP_AUTHORIZATION", "HTTP_HOST", "HTTP_X_AMZ_DATE", "HTTP_X_AMZ_SECURITY_TOKEN", "HTTP_USER_AGENT"):
            if key in environ:
                inner[key] = environ[key]
        inner["PATH_INFO"] = "/"
        inner["QUERY_STRING"] = ""
        inner["CONTENT_TYPE"] = "application/x-amz-json-1.0"
        inner["CONTENT_LENGTH"] = str(len(payload))
        inner["HTTP_X_AMZ_TARGET"] = f"{service_id}.{operation}"
        inner["wsgi.input"] = io.BytesIO(payload)

        captured: dict[str, Any] = {}

        def capture(status: str, headers: list, exc_info: Any = None) -> Callable:
            captured["status"] = int(status.split(" ", 1)[0])
            return lambda data: None

        # moto's Flask app runs in debug mode, so an action it lacks raises
        # (NotImplementedError) instead of answering 500.
        try:
            chunks = self.app(inner, capture)
            try:
                body = b"".join(chunks)
            finally:
                if hasattr(chunks, "close"):
                    chunks.close()
        except Exception as error:
            raise BridgeError(500, "InternalFailure", f"moto failed on {operation}: {error}")

        status = captured.get("status", 500)
        if status >= 300:
            code, message = parse_error_body(body)
            raise BridgeError(status, code, message)
        if not body.strip():
            return {}
        try:
            return json.loads(body)
        except ValueError:
            raise BridgeError(500, "InternalFailure", f"moto returned a non-JSON response for {operation}")


def read_body(environ: dict) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ["wsgi.input"]
    return stream.read(length) if length > 0 else stream.read()


def decode_cbor(body: bytes) -> dict:
    """Decode a CBOR request body into JSON-protocol values."""
    if not body:
        return {}
    try:
        value = cbor2.loads(body)
    except cbor2.CBORDecodeError as error:
        raise BridgeError(400, "SerializationException", f"invalid CBOR body: {error}")
    if not isinstance(value, dict):
        raise BridgeError(400, "SerializationException", "CBOR body is not a map")
    return to_json_value(value)


def to_json_value(value: Any) -> Any:
    """Convert decoded CBOR to what the JSON protocol carries.

    Timestamps (tag 1, decoded by cbor2 as datetime) become epoch seconds, and
    byte strings become base64 text.
    """
    if isinstance(value, dict):
        return {key: to_json_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_json_value(item) for item in value]
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.timestamp()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, cbor2.CBORTag):
        return to_json_value(value.value)
    return value


def shape_output(shape: Any, value: Any) -> Any:
    """Convert a JSON-protocol value to CBOR-ready values, guided by the botocore shape."""
    if value is None or shape is None:
        return value
    kind = shape.type_name

    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {key: shape_output(members.get(key), item) for key, item in value.items()}
    if kind == "list" and isinstance(value, list):
        return [shape_output(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: shape_output(shape.value, item) for key, item in value.items()}
    if kind == "timestamp":
        return cbor2.CBORTag(1, to_epoch_seconds(value))
    if kind == "blob" and isinstance(value, str):
        return base64.b64decode(value)
    if kind in ("double", "float") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind in ("integer", "long") and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def to_epoch_seconds(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.replace("Z", "+00:00")
        try:
            parsed = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise BridgeError(500, "InternalFailure", f"moto returned an unreadable timestamp {value!r}")
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=datetime.timezone.utc)
        return parsed.timestamp()
    raise BridgeError(500, "InternalFailure", f"moto returned an unreadable timestamp {value!r}")


def encode_cbor(value: Any) -> bytes:
    return cbor2.dumps(value if value is not None else {})


def parse_error_body(body: bytes) -> tuple[str, str]:
    """Return (code, message) from a moto error answer in JSON, XML or HTML."""
    text = body.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text)
        if isinstance(parsed, dict):
            code = parsed.get("__type") or parsed.get("code") or "InternalFailure"
            message = parsed.get("message") or parsed.get("Message") or ""
            return str(code).split("#")[-1], str(message)
    except ValueError:
        pass
    try:
        root = ElementTree.fromstring(text)
        code = root.findtext(".//Code") or root.findtext(".//{*}Code")
        message = root.findtext(".//Message") or root.findtext(".//{*}Message")
        if code:
            return code, message or ""
    except ElementTree.ParseError:
        pass
    # moto answers an unimplemented action with an HTML page; the useful
    # text is in moto's log, so keep only a short excerpt here.
    return "InternalFailure", " ".join(text.split())[:300]


def write_port_file(path: str, port: int) -> None:
    """Write the port atomically so a reader never sees a partial file."""
    temporary = f"{path}.tmp{os.getpid()}"
    with open(temporary, "w", encoding="ascii") as handle:
        handle.write(f"{port}\n")
    os.replace(temporary, path)


def exit_when_orphaned(parent_pid: int) -> None:
    """Stop the process once its parent is gone, so a killed test run leaves no server."""
    while True:
        if os.getppid() != parent_pid:
            os._exit(0)
        time.sleep(1.0)


class Delay:
    """WSGI middleware that holds every request for a fixed time, so tests can
    make a reconcile pass last long enough to interrupt it."""

    def __init__(self, app: Callable, seconds: float):
        self.app = app
        self.seconds = seconds

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if not environ.get("PATH_INFO", "").startswith("/moto-api"):
            time.sleep(self.seconds)
        return self.app(environ, start_response)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port-file", help="file to write the listening port to")
    parser.add_argument(
        "--port", type=int, default=0, help="TCP port on 127.0.0.1 (default 0: a free port)"
    )
    parser.add_argument(
        "--delay-ms", type=int, default=0, help="hold every AWS request this many milliseconds (default 0)"
    )
    args = parser.parse_args(argv)

    moto_app = DomainDispatcherApplication(create_backend_app)
    app = CborBridge(moto_app)
    if args.delay_ms > 0:
        app = Delay(app, args.delay_ms / 1000.0)

    server = make_server(LOOPBACK, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    port = server.server_port
    # moto builds some URLs that point back at itself from MOTO_PORT.
    os.environ["MOTO_PORT"] = str(port)

    threading.Thread(target=exit_when_orphaned, args=(os.getppid(),), daemon=True).start()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))

    if args.port_file:
        write_port_file(args.port_file, port)
    print(port, flush=True)

    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
