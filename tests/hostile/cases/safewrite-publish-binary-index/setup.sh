mkdir site && python3 -c "import sys; sys.stdout.buffer.write(b'\\x7fELF\\x02\\x01\\x01\\x00' + bytes(range(256)))" > site/index.yaml
