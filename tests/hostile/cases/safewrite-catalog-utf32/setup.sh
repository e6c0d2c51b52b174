python3 -c "import sys; from pathlib import Path; p = Path('catalog.yaml'); p.write_bytes(p.read_text().encode('utf-32'))"
