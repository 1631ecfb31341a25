"""Progress of a batch job."""

import sys


def percent_done(done, total):
    """How much of the job is done, in percent, with one decimal."""
    if total == 0:
        return 100.0
    return round(done / total * 100, 1)


def main(argv):
    done, total = int(argv[1]), int(argv[2])
    print(f"{percent_done(done, total)}% done")


if __name__ == "__main__":
    main(sys.argv)
