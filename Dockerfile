# The gateway as a GPU image (it also runs on a CPU host). Build: docker build -t gateway .
# Run:   docker run --gpus all -p 7860:7860 -v gateway-data:/data gateway
# The build fetches the weights the GPU defaults use (--device cuda: a builder has no GPU, the runtime has one);
# --build-arg PRELOAD="upscale object_removal" fetches fewer capabilities, PRELOAD=none nothing (they then
# download on first use). As a Hugging Face Space: deploy/docker/README.md (`sdk: docker`).
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 libgomp1 curl \
    && rm -rf /var/lib/apt/lists/*
RUN useradd -m -u 1000 user && mkdir -p /data && chown user /data
WORKDIR /home/user/app
COPY requirements.txt .
# onnxruntime-gpu replaces onnxruntime (one module, so never both): the ONNX backends (rembg, style transfer,
# InsightFace) then get the CUDA execution provider. Its dependencies are onnxruntime's, already installed.
# 1.26.0 is the newest onnxruntime-gpu built for CUDA 12 (1.27+ need CUDA 13): it uses the CUDA 12 / cuDNN 9
# libraries torch 2.10.0 brings (a test keeps its CUDA major equal to torch's).
# The first `import rembg` compiles pymatting with numba for over a minute: pay it here, not at the first request.
ARG ONNXRUNTIME_GPU=onnxruntime-gpu==1.26.0
RUN pip install --no-cache-dir -r requirements.txt \
    && if [ -n "$ONNXRUNTIME_GPU" ]; then pip uninstall -y onnxruntime && pip install --no-cache-dir --no-deps "$ONNXRUNTIME_GPU"; fi \
    && python -c "import rembg"
COPY --chown=user . .
USER user
ENV HOME=/home/user HF_HOME=/home/user/.cache/huggingface \
    GRADIO_SERVER_NAME=0.0.0.0 GRADIO_SERVER_PORT=7860 GRADIO_ANALYTICS_ENABLED=False \
    GATEWAY_DATA_DIR=/data GATEWAY_IN_DOCKER=1
ARG PRELOAD=all
RUN if [ "$PRELOAD" = "all" ]; then python -m models.download --device cuda; \
    elif [ "$PRELOAD" != "none" ]; then python -m models.download --device cuda $PRELOAD; fi
EXPOSE 7860
HEALTHCHECK --interval=30s --timeout=10s --start-period=180s --retries=3 \
    CMD curl -fsS "http://127.0.0.1:${GRADIO_SERVER_PORT}/" > /dev/null || exit 1
CMD ["python", "app.py"]
