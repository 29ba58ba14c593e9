"""The one error type for input the planner cannot use: which field, the value given, what is accepted.

Raised by the brief, the roster and the forecast; the HTTP views answer it as a 422 problem naming the field, the
command line prints it. Nobody reads the message to find the field.
"""

from __future__ import annotations


class PlanningError(ValueError):
    """`field` is a path in the request ("brief.niche", "limits.must_include", "budget"); `value` what was given
    (None when the request as a whole cannot be planned); `accepted` what would be. `unplannable` marks a request
    whose fields are each valid but which no roster can satisfy (e.g. more creators than fit the budget)."""

    def __init__(self, field: str, value, accepted: str, message: str | None = None, unplannable: bool = False):
        self.field, self.value, self.accepted, self.unplannable = field, value, accepted, unplannable
        self.message = message or f"{field}: got {value!r}; expected {accepted}"
        super().__init__(self.message)

    def within(self, prefix: str) -> PlanningError:
        """The same error with its field under `prefix` (e.g. a brief's "niche" as "brief.niche")."""
        return PlanningError(f"{prefix}.{self.field}", self.value, self.accepted,
                             f"{prefix}.{self.message}" if self.message.startswith(self.field) else self.message,
                             self.unplannable)
