"""Print how often each word occurs in a file, most frequent first."""

import argparse
import collections
import re


def main(argv=None):
    parser = argparse.ArgumentParser(description="Count the words of a text file.")
    parser.add_argument("path")
    parser.add_argument("--top", type=int, default=None, help="print only the N most frequent words")
    args = parser.parse_args(argv)
    with open(args.path) as f:
        words = re.findall(r"[a-z']+", f.read().lower())
    counts = collections.Counter(words)
    ranked = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    if args.top is not None:
        ranked = ranked[:args.top]
    for word, count in ranked:
        print(f"{word} {count}")


if __name__ == "__main__":
    main()
