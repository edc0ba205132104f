"""Generate a synthetic 5010 837P of N claims (default 100,000) for benchmarks.

Claims are grouped 5,000 per ST (the 837 TR3 recommendation) and share billing providers, payers
and members from small pools, as real files do. Write under bench/.data/ (never committed).
Usage: python bench/x12/gen_837p.py OUT.x12 [--claims N]
"""

from __future__ import annotations

import argparse
from pathlib import Path

PER_ST = 5000


def generate(path: Path, claims: int, members: int = 2000, providers: int = 50) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="ascii", newline="") as fh:
        fh.write("ISA*00*          *00*          *ZZ*BENCHSENDER    *ZZ*BENCHRECV      *240101*1200*^*00501*"
                 "000000001*0*T*:~\n")
        fh.write("GS*HC*BENCHSENDER*BENCHRECV*20240101*1200*1*X*005010X222A1~\n")
        sets = 0
        done = 0
        while done < claims:
            sets += 1
            n = min(PER_ST, claims - done)
            segs = [f"ST*837*{sets:04d}*005010X222A1", f"BHT*0019*00*{sets}*20240101*1200*CH",
                    "NM1*41*2*BENCH SUBMITTER*****46*SUB001", "PER*IC*CONTACT*TE*5555555555",
                    "NM1*40*2*BENCH RECEIVER*****46*RCV001"]
            hl = 0
            for k in range(n):
                c = done + k
                prov = c % providers
                mem = c % members
                hl += 1
                segs += [f"HL*{hl}**20*1", f"NM1*85*2*CLINIC {prov}*****XX*1{prov:09d}", f"N3*{prov} MAIN ST",
                         "N4*TOWN*MD*20705", f"REF*EI*{prov:09d}"]
                parent = hl
                hl += 1
                segs += [f"HL*{hl}*{parent}*22*0", "SBR*P*18*GRP1******CI",
                         f"NM1*IL*1*DOE{mem}*JANE****MI*M{mem:08d}", f"N3*{mem} ELM ST", "N4*TOWN*MD*20705",
                         "DMG*D8*19800101*F", "NM1*PR*2*BENCH PAYER*****PI*PAYER1",
                         f"CLM*PCN{c:09d}*250***11:B:1*Y*A*Y*Y", "HI*ABK:E119*ABF:I10",
                         "NM1*82*1*SMITH*JOHN****XX*1999999984", "PRV*PE*PXC*207Q00000X",
                         "LX*1", "SV1*HC:99213:25*150*UN*1***1:2", "DTP*472*D8*20240102",
                         "LX*2", "SV1*HC:85025*100*UN*1***1", "DTP*472*D8*20240102"]
            segs.append(f"SE*{len(segs) + 1}*{sets:04d}")
            fh.write("~\n".join(segs) + "~\n")
            done += n
        fh.write(f"GE*{sets}*1~\nIEA*1*000000001~\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--claims", type=int, default=100_000)
    args = ap.parse_args()
    generate(args.out, args.claims)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB, {args.claims} claims)")


if __name__ == "__main__":
    main()
