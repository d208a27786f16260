#!/usr/bin/env python3
"""tools/sizes.py — hold src/ to its size rules (docs/architecture.md).

A source file over FILE_MAX lines must say why in a comment containing
"Past 800 lines on purpose"; a function whose body is over FUNC_MAX lines
must say why in the comment just above it, containing "long on purpose".
A function is found as coil's style writes one: its opening brace alone
at the start of a line, its closing brace alone at the start of a line.
Prints each file or function that breaks a rule and exits 1 if any does.
"""
import glob
import os
import re
import sys

FILE_MAX = 800
FUNC_MAX = 60


def functions(lines):
    """Yield (name, first line number, body length, comment above)."""
    i = 0
    while i < len(lines):
        if lines[i] != '{':
            i += 1
            continue
        j = i - 1
        while j > 0 and '(' not in lines[j]:
            j -= 1
        name = re.findall(r'(\w+)\s*\(', lines[j])
        above = []
        k = j - 1
        while k >= 0 and lines[k].strip() and not lines[k].startswith('}'):
            above.append(lines[k])
            k -= 1
        end = i + 1
        while end < len(lines) and lines[end] != '}':
            end += 1
        yield (name[0] if name else '?', i + 1, end - i - 1, '\n'.join(above))
        i = end + 1


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else \
        os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
    bad = 0
    files = sorted(glob.glob(os.path.join(root, 'src', '**', '*.c'),
                             recursive=True))
    for path in files:
        text = open(path, encoding='utf-8').read()
        lines = text.split('\n')
        rel = os.path.relpath(path, root)
        if len(lines) > FILE_MAX and 'Past 800 lines on purpose' not in text:
            print(f'{rel}: {len(lines)} lines (over {FILE_MAX}, no comment '
                  'saying why)')
            bad += 1
        for name, line, n, above in functions(lines):
            if n > FUNC_MAX and 'long on purpose' not in above:
                print(f'{rel}:{line}: {name} is {n} lines (over {FUNC_MAX}, '
                      'no comment saying why)')
                bad += 1
    print(f'sizes: {len(files)} files, {bad} over the rules')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
