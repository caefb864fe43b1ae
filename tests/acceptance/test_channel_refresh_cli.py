"""`promptship channel refresh` as the scheduled workflow runs it, on a real store."""

from __future__ import annotations

from publisher import Publisher

from .conftest import Cli


def _args(p: Publisher, *extra: str) -> list[object]:
    return [
        "channel", "refresh", "production", "--store", p.store, "--key", p.key,
        "--allowed-signers", p.signers, "--root", p.workdir, *extra,
    ]  # fmt: skip


def test_refresh_resigns_the_served_bundle(cli: Cli, publisher: Publisher) -> None:
    first = publisher.publish("production")  # 7-day channels, 30-day bundles
    result = cli(*_args(publisher, "--format", "json"))
    assert result.exit == 0, result.err
    info = result.json()
    assert (info["refreshed"], info["seq_before"], info["seq"]) == (True, 1, 2)
    assert (info["release"], info["bundle_digest"]) == (first.release, first.digest)
    assert info["warning"] is None
    shown = cli("channel", "show", "production", "--store", publisher.store,
                "--allowed-signers", publisher.signers, "--format", "json")  # fmt: skip
    assert shown.json()["seq"] == 2
    not_due = cli(*_args(publisher, "--within", "1"))
    assert not_due.exit == 0
    assert "production: not due (channel seq 2 expires" in not_due.out
    text = cli(*_args(publisher))
    assert text.out.startswith("refreshed production: seq 2 → 3, release ")


def test_refresh_exits_1_when_the_bundle_itself_ends_soon(cli: Cli, publisher: Publisher) -> None:
    publisher.publish("production")
    result = cli(*_args(publisher, "--warn-days", "40"))
    assert result.exit == 1
    assert result.out.startswith("refreshed production: seq 1 → 2")
    assert "error: production's bundle (release" in result.err
    assert "promote a newer commit" in result.err


def test_refresh_without_a_channel_or_with_the_wrong_key(cli: Cli, publisher: Publisher) -> None:
    missing = cli(*_args(publisher))
    assert missing.exit == 1
    assert "no channel published for 'production', so there is nothing to refresh" in missing.err
    publisher.publish("production")
    args = _args(publisher)
    args[args.index("--key") + 1] = publisher.outsider_key
    wrong = cli(*args)
    assert wrong.exit == 1
    assert "does not list" in wrong.err
    assert "Traceback" not in wrong.err
