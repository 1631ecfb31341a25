"""Print the lines of a text file."""

import argparse


def main(argv=None):
    parser = argparse.ArgumentParser(description="Print the lines of a text file.")
    parser.add_argument("path")
    parser.add_argument("--number", action="store_true", help="put each line's number in front of it")
    args = parser.parse_args(argv)
    with open(args.path) as f:
        lines = f.read().splitlines()
    for index, line in enumerate(lines, 1):
        print(f"{index}: {line}" if args.number else line)


if __name__ == "__main__":
    main()
