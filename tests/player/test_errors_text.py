"""Errors in plain words: the real words of each lower layer (the CID parser, aiohttp, the proxy's upstream
errors, the playback probe) become what happened, why and what to do, with the raw words kept as the detail."""

from __future__ import annotations

import socket

import aiohttp
import pytest

from player.errors_text import cid_hint, explain
from player.probe import explain_failure
from proxy.api import CidError, parse_piece_cid, template_source
from proxy.upstream_errors import error_for_status


def _cid_error(text: str) -> str:
    with pytest.raises(CidError) as caught:
        parse_piece_cid(text)
    return str(caught.value)


def test_an_ipfs_cid_is_told_apart_from_a_piece_cid() -> None:
    for ipfs in (
        "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG",
        "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
    ):
        problem = explain(_cid_error(ipfs))
        assert problem.kind == "ipfs_cid", problem
        assert "not a PieceCID" in problem.what and "bafkzcib" in problem.todo
    assert cid_hint(_cid_error("QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG")).startswith(
        "Not playable: This is an IPFS CID, not a PieceCID."
    )


def test_a_mistyped_cid_says_to_copy_it_again_and_keeps_the_parsers_words() -> None:
    raw = _cid_error("bafkzcibeysgxaeplmqgh2yotis3gui2t6rslppan3bbl53xsfwrdhwnpj4zv36to!!")
    problem = explain(raw)
    assert problem.kind == "malformed_cid" and "Copy the whole PieceCID" in problem.todo
    assert problem.detail == raw


def test_the_cdn_quota_says_to_ask_the_data_owner() -> None:
    error = error_for_status(template_source("https://cdn.example/{cid}"), 402, "CDN egress quota exhausted")
    problem = explain(error.error, error.detail)
    assert problem.kind == "quota" and "data owner" in problem.todo
    assert "quota exhausted" in problem.detail


async def test_a_refused_connection_says_to_check_the_connection() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, never listening: connections are refused
        with pytest.raises(aiohttp.ClientError) as caught:
            async with aiohttp.ClientSession() as session:
                await session.get(f"http://127.0.0.1:{port}/")
    problem = explain("The upstream did not answer", str(caught.value))
    assert problem.kind == "offline" and "connection" in problem.todo
    assert str(caught.value) in problem.detail


async def test_a_name_that_does_not_resolve_is_a_dns_failure() -> None:
    with pytest.raises(aiohttp.ClientError) as caught:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            await session.get("https://no-such-host.invalid/piece/x")
    problem = explain("upstream failed", str(caught.value))
    assert problem.kind == "dns", str(caught.value)
    assert "name" in problem.what and "[" not in problem.what + problem.why + problem.todo


async def test_bytes_that_are_not_media_say_the_format_cannot_be_decoded(aiohttp_server) -> None:
    from aiohttp import web

    async def noise(request: web.Request) -> web.Response:
        return web.Response(
            status=206,
            body=b"\x00",
            headers={"Content-Range": "bytes 0-0/2048", "Content-Type": "application/octet-stream"},
        )

    app = web.Application()
    app.router.add_get("/piece", noise)
    server = await aiohttp_server(app)
    explanation = await explain_failure(str(server.make_url("/piece")), "Could not open file")
    problem = explain(explanation.sentence, explanation.detail)
    assert problem.kind == "codec" and "mpv or VLC" in problem.todo


def test_unknown_words_keep_their_sentence_and_still_say_what_to_do() -> None:
    problem = explain("The flux capacitor overheated", "raw words")
    assert problem.kind == "other" and problem.what == "The flux capacitor overheated"
    assert problem.todo and problem.detail == "The flux capacitor overheated\nraw words"
