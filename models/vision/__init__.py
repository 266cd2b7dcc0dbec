"""Vision helpers that more than one capability uses: the COCO object detector (YOLOv4-tiny on OpenCV DNN,
`detector.py`) and the GrabCut segmentation with its face/animal/frame seeds and guided-filter edge
(`segment.py`). Capability packages never import each other; what two of them share lives here."""
