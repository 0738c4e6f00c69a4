"""moto's Lambda with what it lacks for the config writer: code that can be downloaded by version."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

CODE_HOST = "https://lambda-code.example/"


class CodeKeepingLambda:
    """A moto Lambda client that remembers every package, by function and version.

    GetFunction's `Code.Location` is a presigned S3 URL in AWS; moto's cannot be fetched
    (and it mixes up versions), so each location here names the version it came from and
    `fetch` returns that version's code, as the URL would.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.latest: dict[str, bytes] = {}  # function name -> $LATEST's code
        self.versions: dict[str, bytes] = {}  # qualified ARN -> the code published as it
        self.uploaded: dict[str, bytes] = {}  # function name -> the last code uploaded by update_function_code

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    @staticmethod
    def _name(function: str) -> str:
        return function.split(":function:")[-1].split(":")[0]

    def create_function(self, **kwargs: Any) -> Any:
        self.latest[kwargs["FunctionName"]] = kwargs["Code"]["ZipFile"]
        return self.client.create_function(**kwargs)

    def update_function_code(self, **kwargs: Any) -> Any:
        name = self._name(kwargs["FunctionName"])
        self.latest[name] = self.uploaded[name] = kwargs["ZipFile"]
        return self.client.update_function_code(**kwargs)

    def publish_version(self, **kwargs: Any) -> Any:
        published = self.client.publish_version(**kwargs)
        name = self._name(kwargs["FunctionName"])
        sha = base64.b64encode(hashlib.sha256(self.latest[name]).digest()).decode()
        if kwargs.get("CodeSha256", sha) != sha:  # what AWS checks and moto does not
            raise ValueError("PreconditionFailed: CodeSha256 is not $LATEST's")
        self.versions.setdefault(published["FunctionArn"], self.latest[name])
        return published

    def get_function(self, **kwargs: Any) -> Any:
        found = self.client.get_function(**kwargs)
        found["Code"]["Location"] = CODE_HOST + found["Configuration"]["FunctionArn"]
        return found

    def fetch(self, url: str, seconds: float) -> bytes:
        arn = url.removeprefix(CODE_HOST)
        return self.versions[arn] if arn in self.versions else self.latest[self._name(arn)]
