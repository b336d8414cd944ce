#!/usr/bin/env bash
# Every link in README.md and docs/ must resolve inside the repository: relative Markdown links
# and images point at files that exist (anchors at headings that exist), and no text points
# outside the tree (`../shared/...`). External http(s) links are not fetched (CI has no network).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 - <<'PY'
import pathlib, re, sys

root = pathlib.Path('.').resolve()
files = [root / 'README.md'] + sorted((root / 'docs').rglob('*.md'))
link = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)')
outside = re.compile(r'\.\./shared/|/work/shared')

def anchors(path):
    found = set()
    for line in path.read_text(encoding='utf-8').splitlines():
        m = re.match(r'#+\s+(.*)', line)
        if m:
            slug = re.sub(r'[^\w\- ]', '', m.group(1).strip().lower()).replace(' ', '-')
            found.add(slug)
    return found

errors, checked = [], 0
for md in files:
    text = md.read_text(encoding='utf-8')
    in_code = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith('```'):
            in_code = not in_code
        where = f'{md.relative_to(root)}:{number}'
        if outside.search(line):
            errors.append(f'{where}: points outside the repository: {line.strip()}')
        if in_code:
            continue
        for target in link.findall(line):
            if re.match(r'^[a-z]+:', target):
                continue
            checked += 1
            path_part, _, anchor = target.partition('#')
            dest = md if not path_part else (md.parent / path_part).resolve()
            if root not in dest.parents and dest != root:
                errors.append(f'{where}: {target} leaves the repository')
            elif not dest.exists():
                errors.append(f'{where}: {target} does not exist')
            elif anchor and dest.suffix == '.md' and anchor not in anchors(dest):
                errors.append(f'{where}: {target}: no heading #{anchor}')
for e in errors:
    print(e)
print(f'check-links: {checked} links in {len(files)} files, {len(errors)} broken')
sys.exit(1 if errors else 0)
PY
