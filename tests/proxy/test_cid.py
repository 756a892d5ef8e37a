"""PieceCID parsing: FRC-0069 vectors and clear words for everything that is not a piece CID.

Vectors: filecoin-project/FIPs, FRCs/frc-0069.md, section "Test Cases".
"""

from __future__ import annotations

import pytest

from proxy.cid import CidError, PieceCid, parse_piece_cid, tree_shape

# (v1, v2, payload size) from FRC-0069's test cases.
FRC_0069_CONVERSIONS = [
    (
        "baga6ea4seaqes3nobte6ezpp4wqan2age2s5yxcatzotcvobhgcmv5wi2xh5mbi",
        "bafkzcibcaaces3nobte6ezpp4wqan2age2s5yxcatzotcvobhgcmv5wi2xh5mbi",
        127 * 4,
    ),
    (
        "baga6ea4seaqao7s73y24kcutaosvacpdjgfe5pw76ooefnyqw4ynr3d2y6x2mpq",
        "bafkzcibcaapao7s73y24kcutaosvacpdjgfe5pw76ooefnyqw4ynr3d2y6x2mpq",
        32 * 2**30 * 127 // 128,
    ),
    (
        "baga6ea4seaqomqafu276g53zko4k23xzh4h4uecjwicbmvhsuqi7o4bhthhm4aq",
        "bafkzcibcaap6mqafu276g53zko4k23xzh4h4uecjwicbmvhsuqi7o4bhthhm4aq",
        64 * 2**30 * 127 // 128,
    ),
    (
        "baga6ea4seaqn42av3szurbbscwuu3zjssvfwbpsvbjf6y3tukvlgl2nf5rha6pa",
        "bafkzcibcaac542av3szurbbscwuu3zjssvfwbpsvbjf6y3tukvlgl2nf5rha6pa",
        127 * 8,
    ),
    (
        "baga6ea4seaqn42av3szurbbscwuu3zjssvfwbpsvbjf6y3tukvlgl2nf5rha6pa",
        "bafkzcibd7abqlxticxolgseegik2stpfgkkuwyf6kufex3doorkvmzpjuxwe4dz4",
        128 * 4,
    ),
    (
        "baga6ea4seaqn42av3szurbbscwuu3zjssvfwbpsvbjf6y3tukvlgl2nf5rha6pa",
        "bafkzcibd64bqlxticxolgseegik2stpfgkkuwyf6kufex3doorkvmzpjuxwe4dz4",
        128 * 4 + 1,
    ),
]


@pytest.mark.parametrize(("v1", "v2", "size"), FRC_0069_CONVERSIONS)
def test_v2_carries_the_payload_size_and_converts_to_v1(v1, v2, size):
    piece = parse_piece_cid(v2)
    assert (piece.payload_size, piece.v1(), piece.v2(), piece.version) == (size, v1, v2, 2)


@pytest.mark.parametrize(("v1", "v2", "size"), FRC_0069_CONVERSIONS)
def test_v1_plus_size_converts_to_v2(v1, v2, size):
    piece = parse_piece_cid(v1)
    assert piece.payload_size is None and piece.version == 1
    assert piece.with_payload_size(size).v2() == v2


def test_frc_0069_padding_and_height_examples():
    assert tree_shape(0) == (2, 127)
    assert tree_shape(127) == (2, 0)
    assert tree_shape(128) == (3, 126)
    assert tree_shape(256) == (4, 252)
    assert parse_piece_cid("bafkzcibcp4bdomn3tgwgrh3g532zopskstnbrd2n3sxfqbze7rxt7vqn7veigmy").payload_size == 0


def test_whitespace_around_a_pasted_cid_is_ignored():
    assert parse_piece_cid("  bafkzcibcaaces3nobte6ezpp4wqan2age2s5yxcatzotcvobhgcmv5wi2xh5mbi\n").height == 4


def test_v1_cannot_be_spelt_as_v2_without_size():
    with pytest.raises(CidError, match="v1 piece CIDs carry no size"):
        parse_piece_cid(FRC_0069_CONVERSIONS[0][0]).v2()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", "IPFS CID"),
        ("bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", r"IPFS CID \(dag-pb"),
        ("bafyreihdb57fdysx5h35urvxz64ros7zvywshber7id6t6c6fek37jgyfe", "dag-cbor"),
        ("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", "raw-block CID"),
        ("baga6ea4seaqao7s73y24kcutaosvacpdjgfe5pw76ooefnyqw4ynr3d2y6x2m", "truncated"),
        ("https://0xabc.filbeam.io/bafkzcib", "URL"),
        ("hello world", "not a CID"),
        ("", "no piece CID"),
        ("bafk", "too short"),
        ("bafkzcib!!!!!!!!", "cannot appear"),
    ],
)
def test_non_piece_cids_are_rejected_in_words(text, words):
    with pytest.raises(CidError, match=words):
        parse_piece_cid(text)


def test_v2_with_impossible_padding_is_rejected():
    # height 4 holds 508 bytes; a smaller tree (254) would hold anything with padding ≥ 254
    good = PieceCid(bytes(32), 4, 253).v2()
    assert parse_piece_cid(good).payload_size == 255
    with pytest.raises(CidError, match="padding 254 is too large"):
        parse_piece_cid(PieceCid(bytes(32), 4, 254).v2())


def test_v2_with_height_below_two_is_rejected():
    with pytest.raises(CidError, match="at least 2"):
        parse_piece_cid(PieceCid(bytes(32), 1, 0).v2())
