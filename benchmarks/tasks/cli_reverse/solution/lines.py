"""Print the lines of a text file."""

import argparse


def main(argv=None):
    parser = argparse.ArgumentParser(description="Print the lines of a text file.")
    parser.add_argument("path")
    parser.add_argument("--number", action="store_true", help="put each line's number in front of it")
    parser.add_argument("--reverse", action="store_true", help="print the last line first")
    args = parser.parse_args(argv)
    with open(args.path) as f:
        lines = f.read().splitlines()
    numbered = list(enumerate(lines, 1))
    if args.reverse:
        numbered.reverse()
    for index, line in numbered:
        print(f"{index}: {line}" if args.number else line)


if __name__ == "__main__":
    main()
