chmod 444 values/shop-mesh/prod.yaml
