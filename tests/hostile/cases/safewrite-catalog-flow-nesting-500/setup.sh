python3 -c "import sys; from pathlib import Path; p = Path('catalog.yaml'); p.write_bytes(('a: ' + '[' * 500 + ']' * 500 + '\\n').encode())"
