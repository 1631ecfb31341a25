import json

from settings import connect_timeout


def main():
    with open("config.json") as f:
        config = json.load(f)
    print(f"timeout: {connect_timeout(config)}")


if __name__ == "__main__":
    main()
