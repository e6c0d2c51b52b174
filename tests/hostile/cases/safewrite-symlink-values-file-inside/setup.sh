mkdir -p shared values/shop-mesh && printf 'mine: 1\n' > shared/prod.yaml && ln -s ../../shared/prod.yaml values/shop-mesh/prod.yaml
