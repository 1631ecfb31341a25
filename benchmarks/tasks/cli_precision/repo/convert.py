"""Fahrenheit to Celsius."""

import argparse


def to_celsius(fahrenheit):
    return (fahrenheit - 32) * 5 / 9


def main(argv=None):
    parser = argparse.ArgumentParser(description="Convert a Fahrenheit temperature to Celsius.")
    parser.add_argument("fahrenheit", type=float)
    args = parser.parse_args(argv)
    print(f"{to_celsius(args.fahrenheit):.1f}")


if __name__ == "__main__":
    main()
