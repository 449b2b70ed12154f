"""The Azure VM controller speaks ARM as azure-mgmt-compute does, to a loopback HTTPS server.

The server (http.server over TLS, a self-signed certificate made here for 127.0.0.1) answers
the three endpoints the controller calls: a VM's instance view, and start/deallocate with 202
and an ``Azure-AsyncOperation`` the SDK polls (``InProgress`` once, then ``Succeeded``). Every
request is recorded, so each test asserts what Azure would receive: method, path, API
version, bearer token, and the polling. The real SDK refuses bearer tokens over plain HTTP,
hence TLS.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.core.exceptions import ResourceNotFoundError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from localization_core.settings import Settings
from localization_dagster.autostop import (
    API_VERSION,
    AzureVmController,
    GpuVmsResource,
    autostop_resources,
)

SUB = "00000000-0000-0000-0000-00000000abcd"
RG = "loc-rg"
TOKEN = "test-token-123"
VM_PATH = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Compute/virtualMachines"
OPERATIONS = f"/subscriptions/{SUB}/providers/Microsoft.Compute/locations/westeurope/operations"


@dataclass(frozen=True)
class Seen:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str | None


@dataclass
class Arm:
    """The fake ARM's state: VM power states, operations in flight, requests seen."""

    power: dict[str, str]
    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    polls: dict[str, int] = field(default_factory=dict)
    outcome: dict[str, tuple[str, str]] = field(default_factory=dict)

    def requests(self) -> list[tuple[str, str, str | None, str | None]]:
        """(method, path, api-version, authorization) of each request, in order."""
        return [
            (s.method, s.path, next(iter(s.query.get("api-version", [])), None), s.authorization)
            for s in self.seen
        ]


def _handler(arm: Arm) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> str:
            parts = urlsplit(self.path)
            arm.seen.append(
                Seen(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    self.headers.get("Authorization"),
                )
            )
            return parts.path

        def do_GET(self) -> None:
            path = self._record()
            if path.startswith(OPERATIONS):
                self._poll(path.rsplit("/", 1)[1])
                return
            vm = path.removeprefix(VM_PATH + "/").removesuffix("/instanceView")
            if vm not in arm.power:
                self._not_found(vm)
                return
            statuses = [{"code": "ProvisioningState/succeeded"}, {"code": arm.power[vm]}]
            self._reply(200, {"statuses": statuses}, {})

        def _poll(self, op: str) -> None:
            arm.polls[op] = arm.polls.get(op, 0) + 1
            if arm.polls[op] == 1:
                self._reply(200, {"name": op, "status": "InProgress"}, {})
                return
            vm, final = arm.outcome[op]
            arm.power[vm] = final
            self._reply(200, {"name": op, "status": "Succeeded"}, {})

        def _not_found(self, vm: str) -> None:
            error = {"code": "ResourceNotFound", "message": f"The VM '{vm}' was not found."}
            self._reply(404, {"error": error}, {})

        def do_POST(self) -> None:
            path = self._record()
            vm, _, verb = path.removeprefix(VM_PATH + "/").partition("/")
            if vm not in arm.power:
                self._not_found(vm)
                return
            op = f"op-{len(arm.outcome) + 1}"
            arm.power[vm] = {"start": "PowerState/starting"}.get(verb, "PowerState/deallocating")
            final = {"start": "PowerState/running"}.get(verb, "PowerState/deallocated")
            arm.outcome[op] = (vm, final)
            location = f"{arm.url}{OPERATIONS}/{op}?api-version={API_VERSION}"
            self._reply(202, {}, {"Azure-AsyncOperation": location})

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost (its own CA), and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "arm.pem", folder / "arm-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture()
def arm(certificate: tuple[Path, Path]) -> Iterator[Arm]:
    """A fake ARM over HTTPS on 127.0.0.1 with two GPU VMs."""
    state = Arm(power={"gpu-0": "PowerState/running", "gpu-1": "PowerState/deallocated"})
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    state.url = f"https://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class StaticCredential:
    """A token credential that always returns one token, and records the scopes asked."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(TOKEN, int(time.time()) + 3600)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        self.scopes.append(scopes)
        return AccessTokenInfo(TOKEN, int(time.time()) + 3600)


def _controller(arm: Arm, cert: Path, credential: StaticCredential) -> AzureVmController:
    return AzureVmController(
        SUB,
        RG,
        ["gpu-0", "gpu-1"],
        credential=credential,
        base_url=arm.url,
        connection_verify=str(cert),
        polling_interval=0,
    )


BEARER = f"Bearer {TOKEN}"


def test_power_states_read_each_vms_instance_view(arm: Arm, certificate: tuple[Path, Path]) -> None:
    credential = StaticCredential()
    states = _controller(arm, certificate[0], credential).power_states()
    assert states == {"gpu-0": "running", "gpu-1": "deallocated"}
    assert arm.requests() == [
        ("GET", f"{VM_PATH}/gpu-0/instanceView", API_VERSION, BEARER),
        ("GET", f"{VM_PATH}/gpu-1/instanceView", API_VERSION, BEARER),
    ]
    assert credential.scopes and set(credential.scopes) == {(f"{arm.url}/.default",)}


def test_start_and_wait_polls_the_async_operation_until_it_succeeds(
    arm: Arm, certificate: tuple[Path, Path]
) -> None:
    controller = _controller(arm, certificate[0], StaticCredential())
    controller.start("gpu-1", wait=True)
    assert arm.requests() == [
        ("POST", f"{VM_PATH}/gpu-1/start", API_VERSION, BEARER),
        ("GET", f"{OPERATIONS}/op-1", API_VERSION, BEARER),  # InProgress
        ("GET", f"{OPERATIONS}/op-1", API_VERSION, BEARER),  # Succeeded
    ]
    assert controller.power_states()["gpu-1"] == "running"


def test_deallocate_and_wait_polls_until_deallocated(
    arm: Arm, certificate: tuple[Path, Path]
) -> None:
    controller = _controller(arm, certificate[0], StaticCredential())
    controller.deallocate("gpu-0", wait=True)
    assert [(m, p) for m, p, *_ in arm.requests()] == [
        ("POST", f"{VM_PATH}/gpu-0/deallocate"),
        ("GET", f"{OPERATIONS}/op-1"),
        ("GET", f"{OPERATIONS}/op-1"),
    ]
    assert controller.power_states()["gpu-0"] == "deallocated"


def test_without_wait_only_the_request_is_sent_and_the_vm_shows_its_transition(
    arm: Arm, certificate: tuple[Path, Path]
) -> None:
    """What the sensors do: a start takes minutes, longer than a sensor tick may."""
    controller = _controller(arm, certificate[0], StaticCredential())
    controller.deallocate("gpu-0")
    controller.start("gpu-1")
    assert [(m, p) for m, p, *_ in arm.requests()] == [
        ("POST", f"{VM_PATH}/gpu-0/deallocate"),
        ("POST", f"{VM_PATH}/gpu-1/start"),
    ]
    assert controller.power_states() == {"gpu-0": "deallocating", "gpu-1": "starting"}


def test_an_unknown_vm_is_refused_with_arms_message(
    arm: Arm, certificate: tuple[Path, Path]
) -> None:
    controller = _controller(arm, certificate[0], StaticCredential())
    with pytest.raises(ResourceNotFoundError, match="The VM 'gpu-9' was not found"):
        controller.start("gpu-9")


def _identity_server(tokens: list[dict[str, str]]) -> ThreadingHTTPServer:
    """An App Service style managed identity endpoint (plain HTTP on loopback, as there)."""

    class Identity(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            tokens.append(
                {"resource": query["resource"][0], "secret": self.headers["X-IDENTITY-HEADER"]}
            )
            body = json.dumps(
                {
                    "access_token": "identity-token",
                    "expires_on": str(int(time.time()) + 3600),
                    "resource": query["resource"][0],
                    "token_type": "Bearer",
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Identity)


def test_the_resource_from_settings_uses_the_managed_identity(
    arm: Arm,
    certificate: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Production's path: settings -> resource -> DefaultAzureCredential -> managed identity
    token -> ARM at ``AZURE_ARM_ENDPOINT`` (the token asked for that endpoint's scope)."""
    tokens: list[dict[str, str]] = []
    identity = _identity_server(tokens)
    thread = threading.Thread(target=identity.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    for variable in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "MSI_ENDPOINT"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"http://127.0.0.1:{identity.server_address[1]}/")
    monkeypatch.setenv("IDENTITY_HEADER", "identity-secret")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
    settings = Settings(
        LOCALIZATION_DATA_DIR=tmp_path,
        GPU_VMS="gpu-0, gpu-1,gpu-0",
        AZURE_SUBSCRIPTION_ID=SUB,
        AZURE_RESOURCE_GROUP=RG,
        AZURE_ARM_ENDPOINT=arm.url,
    )
    try:
        resource = autostop_resources(settings)["gpu_vms"]
        assert isinstance(resource, GpuVmsResource)
        assert resource.power_states() == {"gpu-0": "running", "gpu-1": "deallocated"}
        resource.start("gpu-1")
        resource.deallocate("gpu-0")
    finally:
        identity.shutdown()
        identity.server_close()
        thread.join()
    assert arm.requests() == [
        ("GET", f"{VM_PATH}/gpu-0/instanceView", API_VERSION, "Bearer identity-token"),
        ("GET", f"{VM_PATH}/gpu-1/instanceView", API_VERSION, "Bearer identity-token"),
        ("POST", f"{VM_PATH}/gpu-1/start", API_VERSION, "Bearer identity-token"),
        ("POST", f"{VM_PATH}/gpu-0/deallocate", API_VERSION, "Bearer identity-token"),
    ]
    assert tokens and tokens[0] == {"resource": arm.url, "secret": "identity-secret"}
