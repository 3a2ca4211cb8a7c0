"""One way to Temporal for the API, the worker and the command line: plain to the dev server, TLS with a
client certificate (mTLS, a self-hosted cluster) or an API key (Temporal Cloud), from the same settings."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.service import TLSConfig

from config import Settings
from scripts.temporal_dev import stop_process
from temporal_client import connect, connect_options
from tests.proxy import Proxy
from tests.servers import dev_server


def issue(name: str, issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None, folder: Path) -> tuple[Path, Path]:
    """A certificate and key (PEM files): a CA's when `issuer` is None, else one it signs for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, issuer_key = issuer or (subject, key)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is not None:
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(issuer_key, hashes.SHA256())
    cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def ca_of(cert: Path, key: Path) -> tuple[x509.Name, ec.EllipticCurvePrivateKey]:
    loaded = serialization.load_pem_private_key(key.read_bytes(), None)
    assert isinstance(loaded, ec.EllipticCurvePrivateKey)
    return x509.load_pem_x509_certificate(cert.read_bytes()).subject, loaded


async def test_mtls_through_a_tls_front_end_reaches_the_cluster(tmp_path: Path) -> None:
    """A front end that demands a client certificate signed by the cluster's CA, as a self-hosted cluster
    with mTLS does: the client connects with TEMPORAL_TLS_* and works; without a certificate it is refused."""
    ca = issue("cluster-ca", None, tmp_path)
    server_cert, server_key = issue("frontend", ca_of(*ca), tmp_path)
    client_cert, client_key = issue("worker", ca_of(*ca), tmp_path)
    front = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(ca[0]))
    front.load_cert_chain(server_cert, server_key)
    front.verify_mode = ssl.CERT_REQUIRED
    front.set_alpn_protocols(["h2"])

    server, _, port = await dev_server()
    proxy = await Proxy(port, ssl=front).start()
    try:
        address = f"127.0.0.1:{proxy.port}"
        cfg = Settings(
            temporal_address=address, temporal_tls_ca=ca[0], temporal_tls_cert=client_cert, temporal_tls_key=client_key
        )
        client = await connect(cfg)
        info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
        assert info.server_version
        without_certificate = Settings(temporal_address=address, temporal_tls_ca=ca[0])
        with pytest.raises(RuntimeError):
            await connect(without_certificate, connect_timeout=dt.timedelta(seconds=3))
    finally:
        await proxy.cut()
        stop_process(server, "temporal")


def test_an_api_key_goes_over_tls_and_the_dev_server_in_plain() -> None:
    cloud = Settings(
        temporal_address="city.a1b2c.tmprl.cloud:7233", temporal_namespace="city.a1b2c", temporal_api_key="tk-Zq81x"
    )
    options = connect_options(cloud)
    assert options["api_key"] == "tk-Zq81x" and options["tls"] is True
    assert options["namespace"] == "city.a1b2c" and options["target_host"] == "city.a1b2c.tmprl.cloud:7233"
    assert "tk-Zq81x" not in repr(cloud)  # the key is a secret in settings' repr and logs
    assert connect_options(Settings())["tls"] is False and connect_options(Settings())["api_key"] is None


def test_tls_settings_that_cannot_work_are_refused_naming_them(tmp_path: Path) -> None:
    cert, key = issue("lonely", None, tmp_path)
    with pytest.raises(ValidationError, match="TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY"):
        Settings(temporal_tls_cert=cert)
    with pytest.raises(ValidationError, match="TEMPORAL_TLS=false"):
        Settings(temporal_tls=False, temporal_api_key="k")
    with pytest.raises(ValidationError, match="temporal_tls_ca"):
        Settings(temporal_tls_ca=tmp_path / "missing.pem")
    configured = connect_options(Settings(temporal_tls_cert=cert, temporal_tls_key=key, temporal_tls_server_name="t"))
    assert isinstance(configured["tls"], TLSConfig) and configured["tls"].client_cert == cert.read_bytes()
