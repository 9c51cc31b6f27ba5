#!/usr/bin/python3
"""Writes src/meter/carbon_table.cpp: pepr's built-in carbon intensity per country (`--country`),
and the country table of docs/meters.md (between its carbon-table markers), from one of:

  owid-energy-data.csv     Our World in Data's energy dataset (preferred): columns country, year,
                           iso_code (ISO 3166-1 alpha-3), carbon_intensity_elec (g CO2eq/kWh).
                           https://github.com/owid/energy-data (file owid-energy-data.csv), or
                           https://nyc3.digitaloceanspaces.com/owid-public/data/energy/ +
                           owid-energy-data.csv (the download link of that repository's README)
  global_energy_mix.json   CodeCarbon's copy of the same Our World in Data figures, one year per
                           country (keys: ISO 3166-1 alpha-3; fields country_name, iso_code,
                           carbon_intensity, year).
                           https://github.com/mlco2/codecarbon, codecarbon/data/private_infra/

For each country of COUNTRIES below it takes the latest year with a value, rounds it to whole
grams, and takes the alpha-3 code from the source's iso_code. The world average
(kWorldIntensity, src/meter/carbon.hpp) is not generated: the script prints the source's 'World'
figure, when it has one, beside it.

Usage: scripts/gen_carbon_table.py SOURCE_FILE --retrieved "WHERE AND WHEN THE FILE WAS TAKEN"
e.g.   scripts/gen_carbon_table.py ~/owid-energy-data.csv \\
           --retrieved "github.com/owid/energy-data master 873ea63 (2025-05-30)"
The source file is not kept in this repository.
"""
import argparse
import collections
import csv
import hashlib
import json
import math
import os
import re
import sys
import textwrap

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)

# ISO 3166-1 alpha-2 code and the name the source (Our World in Data) gives the country.
COUNTRIES = [
    ("US", "United States"), ("CA", "Canada"), ("MX", "Mexico"), ("BR", "Brazil"),
    ("AR", "Argentina"), ("CL", "Chile"), ("GB", "United Kingdom"), ("IE", "Ireland"),
    ("FR", "France"), ("DE", "Germany"), ("NL", "Netherlands"), ("BE", "Belgium"),
    ("CH", "Switzerland"), ("AT", "Austria"), ("IT", "Italy"), ("ES", "Spain"),
    ("PT", "Portugal"), ("PL", "Poland"), ("CZ", "Czechia"), ("SE", "Sweden"),
    ("NO", "Norway"), ("FI", "Finland"), ("DK", "Denmark"), ("IS", "Iceland"),
    ("RU", "Russia"), ("TR", "Turkey"), ("ZA", "South Africa"), ("EG", "Egypt"),
    ("SA", "Saudi Arabia"), ("AE", "United Arab Emirates"), ("IN", "India"), ("CN", "China"),
    ("JP", "Japan"), ("KR", "South Korea"), ("TW", "Taiwan"), ("SG", "Singapore"),
    ("ID", "Indonesia"), ("AU", "Australia"), ("NZ", "New Zealand"),
]
OLDEST_YEAR = 2015  # a row older than this is an error (the test checks it too)

SOURCES = {
    "csv": ("https://github.com/owid/energy-data (owid-energy-data.csv, column "
            "carbon_intensity_elec)",
            "Our World in Data, lifecycle carbon intensity of electricity generation "
            "(Ember; Energy Institute)"),
    "json": ("https://github.com/mlco2/codecarbon (codecarbon/data/private_infra/"
             "global_energy_mix.json, field carbon_intensity: Our World in Data's "
             "carbon_intensity_elec)",
             "Our World in Data, lifecycle carbon intensity of electricity generation "
             "(Ember; Energy Institute), via CodeCarbon's global_energy_mix.json"),
}


def read_csv(path):
    """{name: [(year, iso_code, g_per_kwh)]} from Our World in Data's energy dataset."""
    series = collections.defaultdict(list)
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        needed = {"country", "year", "iso_code", "carbon_intensity_elec"}
        missing = needed - set(reader.fieldnames or [])
        if missing:
            sys.exit(f"{path}: not Our World in Data's energy dataset (no {sorted(missing)})")
        for r in reader:
            if r["carbon_intensity_elec"].strip():
                series[r["country"]].append(
                    (int(r["year"]), r["iso_code"], float(r["carbon_intensity_elec"])))
    return series


def read_json(path):
    """The same from CodeCarbon's global_energy_mix.json (one year per country)."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    series = collections.defaultdict(list)
    for key, e in data.items():
        if e.get("carbon_intensity") is None or e.get("year") is None:
            continue
        series[e["country_name"]].append(
            (int(e["year"]), e.get("iso_code") or key, float(e["carbon_intensity"])))
    return series


def whole(v):
    return int(math.floor(v + 0.5))


ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("source", help="owid-energy-data.csv or CodeCarbon's global_energy_mix.json")
ap.add_argument("--retrieved", required=True,
                help="where and when the source file was taken (repository, commit, date)")
args = ap.parse_args()

kind = "json" if args.source.endswith(".json") else "csv"
series = read_json(args.source) if kind == "json" else read_csv(args.source)
with open(args.source, "rb") as f:
    sha256 = hashlib.sha256(f.read()).hexdigest()
url, source_name = SOURCES[kind]

rows = []
for alpha2, name in COUNTRIES:
    if name not in series:
        sys.exit(f"{name} ({alpha2}): not in {args.source}")
    year, iso, value = max(series[name])
    if not re.fullmatch(r"[A-Z]{3}", iso or ""):
        sys.exit(f"{name}: iso_code {iso!r} is not an ISO 3166-1 alpha-3 code")
    if year < OLDEST_YEAR:
        sys.exit(f"{name}: latest value is for {year}, before {OLDEST_YEAR}")
    if not 0 < value < 1500:
        sys.exit(f"{name}: {value} g/kWh is out of range")
    rows.append((alpha2, iso, name, whole(value), year))
if len({r[1] for r in rows}) != len(rows):
    sys.exit("two countries share an alpha-3 code")

years = collections.Counter(r[4] for r in rows)
year_note = "; ".join(
    f"{y}: {n} rows" + ("" if n > len(rows) // 2 else " (" + " ".join(
        r[0] for r in rows if r[4] == y) + ")") for y, n in sorted(years.items(), reverse=True))


def c_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def comment(text):
    return ["// " + line for line in textwrap.wrap(text, 97, break_long_words=False,
                                                   break_on_hyphens=False)]


def c_lines(text):
    """A string literal as adjacent pieces, one a line, that fit clang-format's 100 columns."""
    pieces = textwrap.wrap(text, 90, drop_whitespace=False, break_on_hyphens=False)
    lines = ["    " + c_str(p) for p in pieces]
    lines[-1] += ";"
    return lines


out = ["// Generated by scripts/gen_carbon_table.py. Do not edit by hand: run the script."]
out += comment("Source: " + url)
out += comment(f"Retrieved: {args.retrieved}")
out += [f"// File: {os.path.basename(args.source)}", f"// SHA-256: {sha256}"]
out += comment("Annual average (lifecycle) carbon intensity of electricity generation, "
               "g CO2eq/kWh, rounded to whole grams; for each country the latest year with a "
               f"value (each row's year). Data years: {year_note}.")
out += [
    '#include "meter/carbon.hpp"',
    "",
    "namespace pepr::meter {",
    "",
    "const char* const kIntensitySource =",
    *c_lines(source_name),
    "",
    "const std::vector<CountryIntensity>& intensity_table() {",
    "  // clang-format off",
    "  static const std::vector<CountryIntensity> table = {",
]
out += [f"      {{{c_str(a2)}, {c_str(a3)}, {c_str(n)}, {g}, {y}}},"
        for a2, a3, n, g, y in rows]
out += ["  };", "  // clang-format on", "  return table;", "}", "", "}  // namespace pepr::meter",
        ""]
dest = os.path.join(root, "src", "meter", "carbon_table.cpp")
with open(dest + ".tmp", "w") as f:
    f.write("\n".join(out))
os.replace(dest + ".tmp", dest)
print(f"{dest}: {len(rows)} countries; data years {year_note}")

# The docs table, between the markers.
docs = os.path.join(root, "docs", "meters.md")
begin = "<!-- carbon-table:begin (scripts/gen_carbon_table.py) -->"
end = "<!-- carbon-table:end -->"
md = ["| code | alpha-3 | country | g CO2eq/kWh | year |", "| --- | --- | --- | --- | --- |"]
md += [f"| {a2} | {a3} | {n} | {g} | {y} |" for a2, a3, n, g, y in rows]
# The world average row: kWorldIntensity and its year, as src/meter/carbon.hpp states them.
with open(os.path.join(root, "src", "meter", "carbon.hpp"), encoding="utf-8") as f:
    m = re.search(r"kWorldIntensity = ([0-9.]+);\s*//[^\n]*\((\d{4})\)", f.read())
if not m:
    sys.exit("src/meter/carbon.hpp: no 'kWorldIntensity = G;  // ... (YEAR)'")
md.append(f"| WORLD | | world average (Ember) | {float(m[1]):g} | {m[2]} |")
with open(docs, encoding="utf-8") as f:
    text = f.read()
i, j = text.find(begin), text.find(end)
if i < 0 or j < i:
    sys.exit(f"{docs}: no '{begin}' ... '{end}' markers; table not written")
text = text[:i + len(begin)] + "\n\n" + "\n".join(md) + "\n\n" + text[j:]
with open(docs + ".tmp", "w", encoding="utf-8") as f:
    f.write(text)
os.replace(docs + ".tmp", docs)
print(f"{docs}: table rewritten")

world = series.get("World")
if world:
    y, _, v = max(world)
    print(f"source's World: {whole(v)} g/kWh ({y}); kWorldIntensity (carbon.hpp) is not generated")
else:
    print("source has no 'World' row; kWorldIntensity (carbon.hpp) is not generated")
