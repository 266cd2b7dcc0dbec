# GPU or CPU image of the gateway. Build: docker build -t gateway .   Run: docker run -p 7860:7860 -v gateway-data:/data gateway
# Bake weights in at build time: docker build --build-arg PRELOAD="image_generation upscale" -t gateway .
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 libgomp1 \
    && rm -rf /var/lib/apt/lists/*
RUN useradd -m -u 1000 user && mkdir -p /data && chown user /data
WORKDIR /home/user/app
COPY requirements.txt .
# The first `import rembg` compiles pymatting with numba for over a minute: pay it here, not at the first request.
RUN pip install --no-cache-dir -r requirements.txt && python -c "import rembg"
COPY --chown=user . .
USER user
ENV GATEWAY_HOST=0.0.0.0 GATEWAY_PORT=7860 GATEWAY_DATA_DIR=/data GRADIO_ANALYTICS_ENABLED=False
ARG PRELOAD=""
RUN if [ -n "$PRELOAD" ]; then python -m models.download $PRELOAD; fi
EXPOSE 7860
CMD ["python", "app.py"]
