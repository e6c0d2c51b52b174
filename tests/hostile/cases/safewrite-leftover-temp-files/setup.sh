# temporary files of a killed run (created here: *.chartgen-tmp is git-ignored)
mkdir -p charts/shop-mesh
printf 'half a catalog\n' > .catalog.yaml.x1y2z3.chartgen-tmp
printf 'half a chart\n' > charts/shop-mesh/.Chart.yaml.abc123.chartgen-tmp
