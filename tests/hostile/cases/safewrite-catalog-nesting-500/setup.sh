python3 -c "import sys; from pathlib import Path; p = Path('catalog.yaml'); p.write_bytes(''.join('  ' * i + 'k:\\n' for i in range(500)).encode())"
