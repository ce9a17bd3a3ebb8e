"""Multipart bodies byte for byte as real clients build them (the seed's examples)."""

from __future__ import annotations


def multipart(fields: dict[str, str], boundary: str) -> tuple[bytes, str]:
    """Parts with only a Content-Disposition, as browsers' FormData and requests' files=(None, v) send."""
    out = b""
    for name, value in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode("utf-8") + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def browser_form_data(fields: dict[str, str]) -> tuple[bytes, str]:
    """``fetch(url, {body: formData})`` in Chrome: a WebKit boundary."""
    return multipart(fields, "----WebKitFormBoundary7MA4YWxkTrZu0gW")


def requests_files(fields: dict[str, str]) -> tuple[bytes, str]:
    """``requests.post(url, files={name: (None, value)})``: urllib3 uses a hex boundary."""
    return multipart(fields, "9b1e8f7c3d2a4b5c6d7e8f9a0b1c2d3e")
