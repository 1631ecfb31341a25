"""Print how often each word occurs in a file, most frequent first."""

import argparse
import collections
import re


def main(argv=None):
    parser = argparse.ArgumentParser(description="Count the words of a text file.")
    parser.add_argument("path")
    args = parser.parse_args(argv)
    with open(args.path) as f:
        words = re.findall(r"[a-z']+", f.read().lower())
    counts = collections.Counter(words)
    for word, count in sorted(counts.items(), key=lambda pair: (-pair[1], pair[0])):
        print(f"{word} {count}")


if __name__ == "__main__":
    main()
