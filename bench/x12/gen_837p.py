"""Generate a synthetic 5010 837P (005010X222A1) shaped like a payer's inbound file, for benchmarks.

What makes it realistic (and what the benchmark numbers depend on):

- transaction sets of at most 5,000 claims (the 837 TR3 recommendation), each with the 1000A/1000B
  header;
- a few dozen billing providers (2000A/2010AA, some with a 2010AB pay-to address), each sending
  runs of claims;
- a pool of subscribers (default 5,000) that recur all through the file: the same member has many
  claims, under many billing providers; about a quarter of the claims are for a dependent (2000C
  with PAT and 2010CA) rather than the subscriber;
- claims with 1-4 diagnoses, prior-authorization / clearinghouse REFs, onset dates, a rendering
  provider (2310B) from a pool of practitioners, sometimes a service facility (2310C), sometimes
  other-payer coordination of benefits (2320/2330A/2330B), and 1-6 service lines (LX/SV1/DTP/REF,
  sometimes an NDC in 2410 and a line-level rendering provider in 2420A);
- about 1 KB per claim: 200 MB is about 200,000 claims.

It is deterministic (a seeded RNG): the same arguments give the same bytes. Write under
``bench/.data/`` (git-ignored, never committed).

Usage: python bench/x12/gen_837p.py OUT.x12 [--claims N] [--min-mb M]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

PER_ST = 5000
PROCEDURES = ("99213", "99214", "99212", "99203", "85025", "80053", "36415", "93000", "71046", "97110",
              "J1100", "G0439", "90686", "81002", "87880", "99395", "11721", "20610", "96372", "A4253")
MODIFIERS = ("", "", "", "", "25", "59", "GT", "LT", "RT", "95")
DIAGNOSES = ("E119", "I10", "Z0000", "J069", "M545", "E785", "Z7984", "R05", "K219", "F419", "N390", "J45909",
             "M1990", "E039", "R51", "Z23", "G4733", "H6690", "L309", "B349")
POS = ("11", "11", "11", "11", "22", "02", "12", "20", "81", "49")
FIRST = ("JANE", "JOHN", "MARIA", "JAMES", "LINDA", "ROBERT", "SUSAN", "DAVID", "KAREN", "MICHAEL")
LAST = ("DOE", "SMITH", "JOHNSON", "WILLIAMS", "BROWN", "JONES", "GARCIA", "MILLER", "DAVIS", "MARTINEZ")
STREETS = ("MAIN ST", "ELM ST", "OAK AVE", "PINE RD", "MAPLE DR", "CEDAR LN", "PARK BLVD", "HILL ST")
TOWNS = (("BALTIMORE", "MD", "21201"), ("ROCKVILLE", "MD", "20850"), ("SALT LAKE CITY", "UT", "84101"),
         ("RICHMOND", "VA", "23219"), ("DOVER", "DE", "19901"))


class _Pools:
    """The recurring parties of a file: billing providers, practitioners, subscribers, payers."""

    def __init__(self, rng: random.Random, members: int, providers: int, practitioners: int) -> None:
        self.providers = []
        for p in range(providers):
            town = TOWNS[p % len(TOWNS)]
            block = [f"NM1*85*2*{LAST[p % 10]} FAMILY CLINIC {p}*****XX*1{p:09d}",
                     f"N3*{100 + p} {STREETS[p % 8]}*SUITE {p % 5 + 1}00", f"N4*{town[0]}*{town[1]}*{town[2]}0001",
                     f"REF*EI*{520000000 + p}", f"PER*IC*BILLING OFFICE*TE*410555{p:04d}"]
            if p % 3 == 0:
                block += ["NM1*87*2", f"N3*PO BOX {9000 + p}", f"N4*{town[0]}*{town[1]}*{town[2]}9000"]
            self.providers.append(block)
        self.practitioners = [f"NM1*82*1*{LAST[(k * 7) % 10]}*{FIRST[k % 10]}****XX*1{500000000 + k:09d}"
                              for k in range(practitioners)]
        self.payers = [("BENCH HEALTH PLAN", "PAYER1"), ("BENCH MEDICARE ADVANTAGE", "PAYER2"),
                       ("BENCH MEDICAID MCO", "PAYER3")]
        self.members = []
        for m in range(members):
            town = TOWNS[m % len(TOWNS)]
            payer = self.payers[m % 3]
            sex = "F" if m % 2 else "M"
            born = f"{1940 + m % 60}{m % 12 + 1:02d}{m % 28 + 1:02d}"
            sub = [f"NM1*IL*1*{LAST[m % 10]}{m}*{FIRST[(m // 10) % 10]}*{'ABCDEFGH'[m % 8]}***MI*M{m:09d}",
                   f"N3*{m % 9000 + 1} {STREETS[m % 8]}", f"N4*{town[0]}*{town[1]}*{town[2]}",
                   f"DMG*D8*{born}*{sex}", f"REF*SY*{100000000 + m * 7919 % 899999999}",
                   f"NM1*PR*2*{payer[0]}*****PI*{payer[1]}", f"N3*PO BOX {int(payer[1][-1]) * 1000}",
                   "N4*RICHMOND*VA*23219"]
            dep = [f"NM1*QC*1*{LAST[m % 10]}{m}*{FIRST[(m + 3) % 10]}", f"N3*{m % 9000 + 1} {STREETS[m % 8]}",
                   f"N4*{town[0]}*{town[1]}*{town[2]}", f"DMG*D8*{2005 + m % 15}{m % 12 + 1:02d}15*{'MF'[m % 2]}"]
            group = f"GRP{m % 40:05d}"
            self.members.append((sub, dep, group, payer))


def _claim(rng: random.Random, pools: _Pools, c: int, payer: tuple[str, str]) -> list[str]:
    lines = rng.choice((1, 1, 2, 2, 3, 3, 3, 4, 4, 5, 6, 8))
    pos = rng.choice(POS)
    day = f"2024{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    dx = rng.sample(DIAGNOSES, rng.randint(1, 4))
    charges = [rng.randint(20, 400) for _ in range(lines)]
    cob = rng.random() < 0.25
    other = pools.payers[(pools.payers.index(payer) + 1) % 3]
    segs = [f"CLM*PCN{c:010d}*{sum(charges)}***{pos}:B:1*Y*A*Y*Y", f"DTP*431*D8*{day}"]
    if rng.random() < 0.3:
        segs.append(f"REF*G1*AUTH{c:08d}")
    segs.append(f"REF*D9*CH{c:012d}")
    if rng.random() < 0.1:
        segs.append("NTE*ADD*PATIENT REFERRED BY PRIMARY CARE PHYSICIAN FOR EVALUATION")
    segs.append("HI*" + "*".join(("ABK:" if i == 0 else "ABF:") + d for i, d in enumerate(dx)))
    if rng.random() < 0.4:
        segs += [rng.choice(pools.practitioners).replace("NM1*82*", "NM1*DN*", 1)]
    segs += [rng.choice(pools.practitioners), "PRV*PE*PXC*207Q00000X"]
    if rng.random() < 0.4:
        f = rng.randrange(20)
        segs += [f"NM1*77*2*BENCH SURGERY CENTER {f}*****XX*1{700000000 + f:09d}", f"N3*{f + 1} HOSPITAL WAY",
                 "N4*BALTIMORE*MD*212010001"]
    if cob:
        paid = sum(charges) * 6 // 10
        segs += ["SBR*S*18*OTHGRP******CI", f"CAS*CO*45*{sum(charges) - paid}", f"AMT*D*{paid}", "OI***Y*P**Y",
                 f"NM1*IL*1*OTHER*MEMBER****MI*OT{c:08d}", "N3*1 OTHER ST", "N4*DOVER*DE*19901",
                 f"NM1*PR*2*{other[0]}*****PI*{other[1]}"]
    for k in range(lines):
        mod = rng.choice(MODIFIERS)
        proc = rng.choice(PROCEDURES) + (f":{mod}" if mod else "")
        ptr = ":".join(str(i + 1) for i in range(min(len(dx), rng.randint(1, 4))))
        segs += [f"LX*{k + 1}", f"SV1*HC:{proc}*{charges[k]}*UN*{rng.randint(1, 3)}***{ptr}", f"DTP*472*D8*{day}",
                 f"REF*6R*L{c:010d}{k + 1:02d}"]
        if rng.random() < 0.05:
            segs.append("NTE*ADD*PATIENT SEEN FOR FOLLOW UP")
        if rng.random() < 0.05:
            segs += [f"LIN**N4*{rng.randint(10000000000, 99999999999)}", "CTP****1*UN"]
        if rng.random() < 0.05:
            segs += [rng.choice(pools.practitioners), "PRV*PE*PXC*207R00000X"]
        if cob:
            paid = charges[k] * 6 // 10
            segs += [f"SVD*{other[1]}*{paid}*HC:{proc}**1", f"CAS*CO*45*{charges[k] - paid}", f"DTP*573*D8*{day}"]
    return segs


def generate(path: Path, claims: int = 100_000, members: int = 5_000, providers: int = 40,
             min_bytes: int = 0, seed: int = 837) -> int:
    """Write the file; returns the number of claims written (more than ``claims`` when ``min_bytes``
    asks for a bigger file: generation goes on, whole transaction sets at a time, until both hold)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    pools = _Pools(rng, members, providers, 300)
    done = 0
    sets = 0
    size = 0
    with open(path, "w", encoding="ascii", newline="") as fh:
        head = ("ISA*00*          *00*          *ZZ*BENCHSENDER    *ZZ*BENCHRECV      *240101*1200*^*00501*"
                "000000001*0*P*:~\nGS*HC*BENCHSENDER*BENCHRECV*20240101*1200*1*X*005010X222A1~\n")
        fh.write(head)
        size += len(head)
        while done < claims or size < min_bytes:
            sets += 1
            n = min(PER_ST, claims - done) if done < claims else PER_ST
            segs = [f"ST*837*{sets:04d}*005010X222A1", f"BHT*0019*00*BATCH{sets:05d}*20240101*1200*CH",
                    "NM1*41*2*BENCH CLEARINGHOUSE*****46*SUB001", "PER*IC*EDI DESK*TE*5555551234*EM*EDI@EXAMPLE.COM",
                    "NM1*40*2*BENCH PAYER*****46*PAYER1"]
            hl = 0
            k = 0
            while k < n:
                hl += 1
                prov_hl = hl
                segs += [f"HL*{hl}**20*1", "PRV*BI*PXC*207Q00000X", *pools.providers[rng.randrange(providers)]]
                for _ in range(rng.randint(5, 60)):
                    if k >= n:
                        break
                    sub, dep, group, payer = pools.members[rng.randrange(members)]
                    dependent = rng.random() < 0.25
                    hl += 1
                    sub_hl = hl
                    segs += [f"HL*{hl}*{prov_hl}*22*{1 if dependent else 0}",
                             f"SBR*P*{'' if dependent else '18'}*{group}******CI", *sub]
                    if dependent:
                        hl += 1
                        segs += [f"HL*{hl}*{sub_hl}*23*0", "PAT*19", *dep]
                    for _ in range(rng.choice((1, 1, 1, 2))):
                        if k >= n:
                            break
                        segs += _claim(rng, pools, done + k, payer)
                        k += 1
            segs.append(f"SE*{len(segs) + 1}*{sets:04d}")
            text = "~\n".join(segs) + "~\n"
            fh.write(text)
            size += len(text)
            done += n
        tail = f"GE*{sets}*1~\nIEA*1*000000001~\n"
        fh.write(tail)
    return done


def prefix(src: Path, dst: Path, sets: int) -> int:
    """Write the first ``sets`` transaction sets of a file made by :func:`generate` (one segment per
    line) as a file of its own: the same ISA/GS, those ST…SE byte for byte, then GE/IEA trailers with
    the counts fixed. Returns the number of claims (CLM) in it."""
    claims = done = 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        for line in fin:
            if line.startswith(b"GE*"):
                break
            fout.write(line)
            if line.startswith(b"CLM*"):
                claims += 1
            elif line.startswith(b"SE*"):
                done += 1
                if done == sets:
                    break
        fout.write(f"GE*{done}*1~\nIEA*1*000000001~\n".encode())
    return claims


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--claims", type=int, default=100_000)
    ap.add_argument("--min-mb", type=float, default=0, help="keep adding transaction sets until this size")
    args = ap.parse_args()
    n = generate(args.out, args.claims, min_bytes=int(args.min_mb * 1e6))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB, {n} claims)")


if __name__ == "__main__":
    main()
