mkdir -p ../outside values/shop-mesh && printf 'mine: 1\n' > ../outside/prod.yaml && ln -s ../../../outside/prod.yaml values/shop-mesh/prod.yaml
