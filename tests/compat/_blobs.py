"""A class implementing the ``__blazen_serialize__`` protocol (module scope, findable)."""

from __future__ import annotations

import json


class Blob:
    def __init__(self, n: int, tag: str = "") -> None:
        self.n = n
        self.tag = tag

    def __blazen_serialize__(self) -> bytes:
        return json.dumps({"n": self.n, "tag": self.tag}).encode()

    @classmethod
    def __blazen_deserialize__(cls, data: bytes) -> Blob:
        fields = json.loads(data)
        return cls(fields["n"], fields["tag"])
