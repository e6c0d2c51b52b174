python3 -c "from pathlib import Path; p = Path('values/istiod'); p.mkdir(parents=True); (p / 'dev.yaml').write_bytes('pilot: {}\\n'.encode('utf-16'))"
