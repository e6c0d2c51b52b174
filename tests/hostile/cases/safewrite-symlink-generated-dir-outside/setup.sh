mkdir -p ../outside values/prometheus && echo 'keep: me' > ../outside/precious.yaml && echo 'x: 1' > ../outside/slo-rules-old.yaml && ln -s ../../../outside values/prometheus/generated
