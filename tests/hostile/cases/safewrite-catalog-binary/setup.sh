python3 -c "import sys; from pathlib import Path; p = Path('catalog.yaml'); p.write_bytes(b'\\x7fELF\\x02\\x01\\x01\\x00' + bytes(range(256)) * 4)"
