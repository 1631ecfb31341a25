"""One-line summaries of finished jobs."""


def summary(job, count):
    return "Processed " + count + " files for " + job


if __name__ == "__main__":
    print(summary("backup", 3))
