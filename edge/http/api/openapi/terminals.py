"""The OpenAPI description of the terminal routes: pairing, the terminal's own view, and the
managers' list, pairing codes and revocation."""

from __future__ import annotations

from edge.http.api.openapi.operations import answer, operation, path_param
from edge.http.api.openapi.schemas import array, closed, ref


def terminal_paths() -> dict[str, dict]:
    """Pairing and the terminals' own routes."""
    terminal = {"terminal": ref("Terminal")}
    return {
        "/api/v1/pair": {
            "post": operation(
                "pair",
                "Exchange a one-time pairing code for this terminal's bearer token",
                "terminals",
                {"201": answer("paired: keep the token secret", ref("Paired"))},
                problems=("pairing-refused", "too-many-attempts", "store-unavailable"),
                body="PairRequest",
                security=[],
            )
        },
        "/api/v1/terminals/me": {
            "get": operation(
                "me",
                "The terminal this token belongs to",
                "terminals",
                {"200": answer("this terminal", closed(terminal))},
                kds=True,
            )
        },
        "/api/v1/terminals": {
            "get": operation(
                "list_terminals",
                "Every terminal ever paired, revoked ones included (managers only)",
                "terminals",
                {"200": answer("the terminals", closed({"terminals": array(ref("Terminal"))}))},
                problems=("manager-required",),
            )
        },
        "/api/v1/terminals/pairing-codes": {
            "post": operation(
                "create_pairing_code",
                "Create a one-time code that pairs a new terminal (managers only)",
                "terminals",
                {"201": answer("the code, valid once until expires_at", ref("PairingCode"))},
                problems=("manager-required", "idempotency-key-refused"),
                body="NewPairingCode",
                description=(
                    "Takes no Idempotency-Key (400 idempotency-key-refused): the answer shows "
                    "the code, which the node keeps only as a hash, so no copy of it is kept "
                    "to replay. A retry makes a new code; the unused one expires."
                ),
            )
        },
        "/api/v1/terminals/{terminal_id}": {
            "delete": operation(
                "revoke_terminal",
                "Revoke the terminal with this id, or every live one with this name",
                "terminals",
                {"200": answer("those revoked", closed({"revoked": array(ref("Terminal"))}))},
                problems=("manager-required", "unknown-terminal"),
                params=(path_param("terminal_id", "a terminal's id, or name"),),
            )
        },
    }
