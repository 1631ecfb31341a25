import textutil
from listing import describe

FILES = [("notes.txt", 512), ("photo.jpg", 1536), ("video.mp4", 3 * 1024 * 1024)]

for name, size in FILES:
    print(describe(name, size))
print("total", textutil.fmt_size(sum(size for _, size in FILES)))
