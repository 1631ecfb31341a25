"""List the todos kept in a text file: one per line, `[x] text` when done, `[ ] text` when not."""

import argparse
import json


def read_todos(path):
    todos = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith(("[x] ", "[ ] ")):
                todos.append((line[4:], line[1] == "x"))
    return todos


def main(argv=None):
    parser = argparse.ArgumentParser(description="List todos.")
    parser.add_argument("path")
    parser.add_argument("--json", action="store_true", help="print the todos as JSON")
    args = parser.parse_args(argv)
    todos = read_todos(args.path)
    if args.json:
        print(json.dumps([{"id": number, "text": text, "done": done}
                          for number, (text, done) in enumerate(todos, 1)]))
        return
    for number, (text, done) in enumerate(todos, 1):
        print(f"{number}. [{'x' if done else ' '}] {text}")


if __name__ == "__main__":
    main()
