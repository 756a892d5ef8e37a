"""PieceCID / CommP against published test vectors, and against a slow independent reference implementation.

Sources of the vectors (each cited where used):

* FRC-0069 — filecoin-project/FIPs, ``FRCs/frc-0069.md``, section "Test Cases".
* go-fil-commp-hashhash — filecoin-project/go-fil-commp-hashhash, ``testdata/zero.txt`` and ``testdata/0xCC.txt``
  (lines ``payload size, padded piece size, v1 PieceCID`` computed by Lotus ``ClientCalcCommP``, see
  ``testdata/gen.sh``). synapse-sdk reuses ``zero.txt`` in ``packages/synapse-core/test/piece.test.ts``.
* synapse-sdk — FilOzone/synapse-sdk, ``packages/synapse-core/test/piece.test.ts`` (a real-world v2 CID with its
  payload size, and a valid v2 CID used throughout those tests).
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from proxy.cid import parse_piece_cid
from proxy.commp import ZERO_ROOTS, CommP, commp_of_bytes, commp_of_file, piece_cid_from_chunk_roots

# --- FRC-0069 ---------------------------------------------------------------------------------------------------


def _frc_quads(*fills: int) -> bytes:
    """127 bytes of each fill value in turn: FRC-0069 builds its vectors from such 127-byte runs."""
    return b"".join(bytes([fill]) * 127 for fill in fills)


FRC_0069_PAYLOADS = [
    # (what FRC-0069 says, payload, v1 or None when not given, v2, padding, height)
    ("127·4 bytes: 0s, 1s, 2s, 3s", _frc_quads(0, 1, 2, 3),
     "baga6ea4seaqes3nobte6ezpp4wqan2age2s5yxcatzotcvobhgcmv5wi2xh5mbi",
     "bafkzcibcaaces3nobte6ezpp4wqan2age2s5yxcatzotcvobhgcmv5wi2xh5mbi", 0, 4),
    ("payload of 0 bytes", b"", None,
     "bafkzcibcp4bdomn3tgwgrh3g532zopskstnbrd2n3sxfqbze7rxt7vqn7veigmy", 127, 2),
    ("127 zero bytes", bytes(127), None,
     "bafkzcibcaabdomn3tgwgrh3g532zopskstnbrd2n3sxfqbze7rxt7vqn7veigmy", 0, 2),
    ("128 zero bytes", bytes(128), None,
     "bafkzcibcpybwiktap34inmaex4wbs6cghlq5i2j2yd2bb2zndn5ep7ralzphkdy", 126, 3),
    ("127·8 bytes: 0s, 1s, 2s, 3s, then 127·4 zeros", _frc_quads(0, 1, 2, 3) + bytes(127 * 4),
     "baga6ea4seaqn42av3szurbbscwuu3zjssvfwbpsvbjf6y3tukvlgl2nf5rha6pa",
     "bafkzcibcaac542av3szurbbscwuu3zjssvfwbpsvbjf6y3tukvlgl2nf5rha6pa", 0, 5),
    ("128·4 bytes: 0s, 1s, 2s, 3s, then 4 zeros", _frc_quads(0, 1, 2, 3) + bytes(4),
     "baga6ea4seaqn42av3szurbbscwuu3zjssvfwbpsvbjf6y3tukvlgl2nf5rha6pa",
     "bafkzcibd7abqlxticxolgseegik2stpfgkkuwyf6kufex3doorkvmzpjuxwe4dz4", 504, 5),
    ("the same and one more zero", _frc_quads(0, 1, 2, 3) + bytes(5),
     "baga6ea4seaqn42av3szurbbscwuu3zjssvfwbpsvbjf6y3tukvlgl2nf5rha6pa",
     "bafkzcibd64bqlxticxolgseegik2stpfgkkuwyf6kufex3doorkvmzpjuxwe4dz4", 503, 5),
]  # fmt: skip


@pytest.mark.parametrize(
    ("payload", "v1", "v2", "padding", "height"),
    [pytest.param(*case[1:], id=case[0]) for case in FRC_0069_PAYLOADS],
)
def test_frc_0069_vectors_compute_to_the_published_piece_cids(
    payload: bytes, v1: str | None, v2: str, padding: int, height: int
) -> None:
    computed = commp_of_bytes(payload)
    assert computed.v2() == v2
    if v1 is not None:
        assert computed.v1() == v1
    parsed = parse_piece_cid(v2)
    assert (parsed.padding, parsed.height, parsed.payload_size) == (padding, height, len(payload))


def test_frc_0069_base16_spelling_names_the_same_piece() -> None:
    base16 = "f01559120220004496dae0cc9e265efe5a006e80626a5dc5c409e5d3155c13984caf6c8d5cfd605"
    assert parse_piece_cid(base16).v2() == "bafkzcibcaaces3nobte6ezpp4wqan2age2s5yxcatzotcvobhgcmv5wi2xh5mbi"


@pytest.mark.parametrize(
    ("gib", "v1", "v2"),
    [
        (32, "baga6ea4seaqao7s73y24kcutaosvacpdjgfe5pw76ooefnyqw4ynr3d2y6x2mpq",
         "bafkzcibcaapao7s73y24kcutaosvacpdjgfe5pw76ooefnyqw4ynr3d2y6x2mpq"),
        (64, "baga6ea4seaqomqafu276g53zko4k23xzh4h4uecjwicbmvhsuqi7o4bhthhm4aq",
         "bafkzcibcaap6mqafu276g53zko4k23xzh4h4uecjwicbmvhsuqi7o4bhthhm4aq"),
    ],
)  # fmt: skip
def test_frc_0069_empty_sector_pieces_come_from_the_zero_subtree_roots(gib: int, v1: str, v2: str) -> None:
    payload_size = gib * (1 << 30) * 127 // 128
    assert parse_piece_cid(v1).with_payload_size(payload_size).v2() == v2
    height = (gib * (1 << 30) // 32).bit_length() - 1
    assert ZERO_ROOTS[height] == parse_piece_cid(v2).root
    assert piece_cid_from_chunk_roots([], payload_size).v2() == v2


# --- go-fil-commp-hashhash testdata ----------------------------------------------------------------------------

# filecoin-project/go-fil-commp-hashhash testdata/zero.txt: payload of N zero bytes.
GO_COMMP_ZERO = """
96,128,baga6ea4seaqdomn3tgwgrh3g532zopskstnbrd2n3sxfqbze7rxt7vqn7veigmy
126,128,baga6ea4seaqdomn3tgwgrh3g532zopskstnbrd2n3sxfqbze7rxt7vqn7veigmy
127,128,baga6ea4seaqdomn3tgwgrh3g532zopskstnbrd2n3sxfqbze7rxt7vqn7veigmy
192,256,baga6ea4seaqgiktap34inmaex4wbs6cghlq5i2j2yd2bb2zndn5ep7ralzphkdy
253,256,baga6ea4seaqgiktap34inmaex4wbs6cghlq5i2j2yd2bb2zndn5ep7ralzphkdy
254,256,baga6ea4seaqgiktap34inmaex4wbs6cghlq5i2j2yd2bb2zndn5ep7ralzphkdy
255,512,baga6ea4seaqfpirydiugkk7up5v666wkm6n6jlw6lby2wxht5mwaqekerdfykjq
256,512,baga6ea4seaqfpirydiugkk7up5v666wkm6n6jlw6lby2wxht5mwaqekerdfykjq
384,512,baga6ea4seaqfpirydiugkk7up5v666wkm6n6jlw6lby2wxht5mwaqekerdfykjq
507,512,baga6ea4seaqfpirydiugkk7up5v666wkm6n6jlw6lby2wxht5mwaqekerdfykjq
508,512,baga6ea4seaqfpirydiugkk7up5v666wkm6n6jlw6lby2wxht5mwaqekerdfykjq
509,1024,baga6ea4seaqb66wjlfkrbye6uqoemcyxmqylwmrm235uclwfpsyx3ge2imidoly
512,1024,baga6ea4seaqb66wjlfkrbye6uqoemcyxmqylwmrm235uclwfpsyx3ge2imidoly
768,1024,baga6ea4seaqb66wjlfkrbye6uqoemcyxmqylwmrm235uclwfpsyx3ge2imidoly
1015,1024,baga6ea4seaqb66wjlfkrbye6uqoemcyxmqylwmrm235uclwfpsyx3ge2imidoly
1016,1024,baga6ea4seaqb66wjlfkrbye6uqoemcyxmqylwmrm235uclwfpsyx3ge2imidoly
1017,2048,baga6ea4seaqpy7usqklokfx2vxuynmupslkeutzexe2uqurdg5vhtebhxqmpqmy
1024,2048,baga6ea4seaqpy7usqklokfx2vxuynmupslkeutzexe2uqurdg5vhtebhxqmpqmy
"""

# filecoin-project/go-fil-commp-hashhash testdata/0xCC.txt: payload of N bytes of 0xCC.
GO_COMMP_0XCC = """
96,128,baga6ea4seaqhwcjhi4krhl3ht6dewnwevkpxbepxy7p7onwgz65t52typbsysby
126,128,baga6ea4seaqapbh46gdnszvb7fcinevsy5bzg3b4higkh7groptswf6zas6jamy
127,128,baga6ea4seaqmfldjtozgne6adk7eve2vdxte7vzlivae7nzsbrawobo546zkijq
192,256,baga6ea4seaqkx7m2s6r4zahtlbwrs5ryvemkclwfp7nijopdd5swpdnxzjf7wkq
253,256,baga6ea4seaql6ldbyafhiecr36xba5tufreyo4km2ts3lfknhl2zogp3aztxijy
254,256,baga6ea4seaqkixbzz75uys2pcjbrbdilgjhmum72qm4xphrwav2iyel5oat4aka
255,512,baga6ea4seaqg7celu5y2iwbi2ra5koygvotxtzr5lj6vzvxi6gfub6mpa6niwpi
256,512,baga6ea4seaqi7c3dnwkqysqh4lpkz5jaxz2d2f5bvo3ttu2hnfmdewhcoji56na
384,512,baga6ea4seaqhexlmnzbarsbdbdahs7e36dkq5vkdwsrttehoakrif5wiqme36lq
507,512,baga6ea4seaqenvh5mcy5cjqwsbubbpczprkk2onwvfjd2743zkqh6ofuzkatwey
508,512,baga6ea4seaqb6ckbupixkhwp7thgb52f4en222boppajkqk7gaomkpof3lh4cei
509,1024,baga6ea4seaqdzbeaexq6gpbqh2tlnbz5mm5neap2kejsketkogzd6x2dx7dzkii
512,1024,baga6ea4seaqojaa522sjqms2wipasjbxnjgytunsgp52tgrfcofj73f7q7ou6hy
768,1024,baga6ea4seaqb6xvxaybzp6vslujjiwvgt23ckrwt7y53eddy5qmc6csnc37lwpi
1015,1024,baga6ea4seaqmgiyjcutwgo6glks2mogixs6mb4sbehto6uzienucfx23wbtkica
1016,1024,baga6ea4seaqjxgfdkdu37aryhg7bqqiwizj5f6ugasftgeocabwnj4cxkgisaoq
1017,2048,baga6ea4seaqf3n5ob5qonkwnxfcbjzftsagbnrjfzualqvzhcylz46b7sgz6wmi
1024,2048,baga6ea4seaqdlpnhgsndrgjeu4p46hahlsr4lybg6du4d56ooppdpxhcofxeuoi
"""


def _vectors(table: str, fill: int) -> list:
    rows = [line.split(",") for line in table.split()]
    return [pytest.param(fill, int(size), int(padded), v1, id=f"{fill:#04x}x{size}") for size, padded, v1 in rows]


@pytest.mark.parametrize(
    ("fill", "payload_size", "padded_size", "v1"), _vectors(GO_COMMP_ZERO, 0x00) + _vectors(GO_COMMP_0XCC, 0xCC)
)
def test_go_fil_commp_hashhash_vectors(fill: int, payload_size: int, padded_size: int, v1: str) -> None:
    computed = commp_of_bytes(bytes([fill]) * payload_size)
    assert computed.v1() == v1
    assert computed.padded_size == padded_size
    assert parse_piece_cid(computed.v2()).payload_size == payload_size


# --- synapse-sdk ------------------------------------------------------------------------------------------------


def test_synapse_real_world_piece_cid_carries_its_payload_size() -> None:
    # FilOzone/synapse-sdk packages/synapse-core/test/piece.test.ts: "birb.mp4, 16110964 bytes".
    cid = parse_piece_cid("bafkzcibertksae2h5gohz3y4gc6o3uvrljmh4fyz4bexjywokbejjiy63uv2vxzqcq")
    assert cid.payload_size == 16110964


def test_synapse_valid_piece_cid_is_the_commp_of_96_zero_bytes() -> None:
    # FilOzone/synapse-sdk packages/synapse-core/test/piece.test.ts `validPieceCidString`: its root is the
    # zero.txt root for 96 bytes and its padding 31 (= 127 − 96), so it must be the piece of 96 zero bytes.
    valid = "bafkzcibcd4bdomn3tgwgrh3g532zopskstnbrd2n3sxfqbze7rxt7vqn7veigmy"
    assert commp_of_bytes(bytes(96)).v2() == valid
    assert parse_piece_cid(valid).payload_size == 96


# --- an independent reference: slow, obvious, arbitrary-precision integers ------------------------------------


def _reference_piece_root(payload: bytes) -> bytes:
    """CommP the textbook way: zero-pad to 127·2^k, cut each 127-byte quad (a 1016-bit little-endian integer)
    into four 254-bit limbs as 32-byte little-endian leaves, hash pairs with SHA-256 and clear the top 2 bits."""
    quads = 1
    while quads * 127 < len(payload):
        quads *= 2
    padded = payload + bytes(quads * 127 - len(payload))
    nodes = []
    for offset in range(0, len(padded), 127):
        value = int.from_bytes(padded[offset : offset + 127], "little")
        nodes += [((value >> (254 * word)) & ((1 << 254) - 1)).to_bytes(32, "little") for word in range(4)]
    while len(nodes) > 1:
        parents = []
        for left, right in zip(nodes[::2], nodes[1::2], strict=True):
            digest = bytearray(hashlib.sha256(left + right).digest())
            digest[-1] &= 0x3F
            parents.append(bytes(digest))
        nodes = parents
    return nodes[0]


def test_the_reference_itself_reproduces_published_vectors() -> None:
    assert _reference_piece_root(_frc_quads(0, 1, 2, 3)) == parse_piece_cid(FRC_0069_PAYLOADS[0][3]).root
    assert _reference_piece_root(b"\xcc" * 1017) == parse_piece_cid(GO_COMMP_0XCC.split()[-2].split(",")[2]).root


@pytest.mark.parametrize("size", [1, 126, 127, 128, 1000, 4064, 4065, 65_024, 200_003])
def test_commp_matches_the_reference_on_random_payloads(size: int) -> None:
    payload = random.Random(size).randbytes(size)
    assert commp_of_bytes(payload).root == _reference_piece_root(payload)


@pytest.mark.parametrize("chunk_height", [2, 3, 5, 7])
def test_streaming_in_odd_pieces_across_small_chunks_gives_the_same_root(chunk_height: int) -> None:
    payload = random.Random(chunk_height).randbytes(127 * 41 + 17)
    hasher = CommP(chunk_height=chunk_height)
    rng, offset = random.Random(7), 0
    while offset < len(payload):  # read sizes like go-fil-commp-hashhash's "assorted readsizes stress-test"
        step = rng.choice([1, 126, 127, 128, 254, 1000])
        hasher.update(payload[offset : offset + step])
        offset += step
    assert hasher.piece_cid() == commp_of_bytes(payload)
    assert hasher.piece_cid().root == _reference_piece_root(payload)


def test_commp_of_a_file_across_default_chunks_matches_the_reference(tmp_path: Path) -> None:
    payload = random.Random(3).randbytes(2 * 1_040_384 + 12_345)  # two full default chunks and a bit
    path = tmp_path / "piece.bin"
    path.write_bytes(payload)
    assert commp_of_file(path).root == _reference_piece_root(payload)
    assert commp_of_file(path).payload_size == len(payload)
