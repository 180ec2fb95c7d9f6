"""Request errors the simulated zoo answers with, shaped like the OpenAI API's
(status + error body)."""

from __future__ import annotations

from typing import Any

from ..errors import ModelError

__all__ = ["SimRequestError", "SimModelNotFoundError", "SimContextWindowError"]


class SimRequestError(ModelError):
    """A request the real API would refuse: ``status`` 400 and an error body naming ``param``."""

    status = 400
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param = message, param
        if code is not None:
            self.code = code

    def body(self) -> dict[str, Any]:
        """The JSON error body the OpenAI API sends with this status."""
        return {"error": {"message": self.message, "type": "invalid_request_error",
                          "param": self.param, "code": self.code}}


class SimModelNotFoundError(SimRequestError):
    """The model is not in the zoo (404, like an unknown model id on the real API)."""

    status = 404
    code = "model_not_found"


class SimContextWindowError(SimRequestError):
    """The prompt does not fit the simulated model's context window."""

    code = "context_length_exceeded"
