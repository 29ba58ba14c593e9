"""The one error type for input the planner cannot use: which field, the value given, what is accepted.

Raised by the brief, the roster and the forecast; the HTTP views answer it as a 422 problem naming the field, the
command line prints it. Nobody reads the message to find the field. `PlanningErrors` carries every wrong field of
a request at once.
"""

from __future__ import annotations

from collections.abc import Sequence


class PlanningError(ValueError):
    """`field` is a path in the request ("brief.niche", "limits.must_include", "budget"); `value` what was given
    (None when the request as a whole cannot be planned); `accepted` what would be. `unplannable` marks a request
    whose fields are each valid but which no roster can satisfy (e.g. more creators than fit the budget)."""

    def __init__(self, field: str, value, accepted: str, message: str | None = None, unplannable: bool = False):
        self.field, self.value, self.accepted, self.unplannable = field, value, accepted, unplannable
        self.message = message or f"{field}: got {value!r}; expected {accepted}"
        super().__init__(self.message)

    @property
    def errors(self) -> list[PlanningError]:
        """Each wrong field: this one."""
        return [self]

    def within(self, prefix: str) -> PlanningError:
        """The same error with its field under `prefix` (e.g. a brief's "niche" as "brief.niche")."""
        return PlanningError(f"{prefix}.{self.field}", self.value, self.accepted,
                             f"{prefix}.{self.message}" if self.message.startswith(self.field) else self.message,
                             self.unplannable)


class PlanningErrors(PlanningError):
    """Several wrong fields, all of them, in the order found; `field`, `value` and `accepted` are the first's.
    The message lists one field per line, after `source` (e.g. a campaign file's path) when given."""

    def __init__(self, errors: Sequence[PlanningError], source: str | None = None):
        self._errors = [each for error in errors for each in error.errors]
        if not self._errors:
            raise ValueError("PlanningErrors needs at least one error")
        first, lines = self._errors[0], [e.message for e in self._errors]
        message = lines[0] if len(lines) == 1 else f"{len(lines)} problems:\n  " + "\n  ".join(lines)
        self.source = source
        super().__init__(first.field, first.value, first.accepted, f"{source}: {message}" if source else message,
                         all(e.unplannable for e in self._errors))

    @property
    def errors(self) -> list[PlanningError]:
        return list(self._errors)

    def within(self, prefix: str) -> PlanningErrors:
        return PlanningErrors([e.within(prefix) for e in self._errors], self.source)
